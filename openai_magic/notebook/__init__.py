"""The notebook layer: IPython magics, streaming Markdown rendering, the ipywidgets panel."""
