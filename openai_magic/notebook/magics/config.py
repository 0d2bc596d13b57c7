"""`%config ChatMagics.<option>`: one trait per option that offers the "config" surface, derived from it.

The traits live on a generated base class of `ChatMagics`, so traitlets' own machinery applies:
`%config ChatMagics` lists them with their help, `ipython_config.py` sets them for good, and a value
outside an option's bounds is refused with traitlets' message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics
from traitlets import Bool, Enum, Float, Int, TraitType, Unicode

from .. import options as opts


def config_trait(name: str) -> TraitType[Any, Any]:
    """The trait for one option: its type, default, bounds, choices and help."""
    spec, kind = opts.spec(name), opts.base_type(name)
    default: Any = next(f.default for f in opts.fields() if f.name == name)
    common: dict[str, Any] = {"allow_none": default is None, "help": spec.help}
    bounds: dict[str, Any] = {"min": spec.minimum, "max": spec.maximum}
    trait: TraitType[Any, Any]
    if spec.choices:
        trait = Enum(spec.choices, default_value=default, **common)
    elif kind is bool:
        trait = Bool(default, help=spec.help)
    elif kind is float:
        trait = Float(default, **common, **bounds)
    elif kind is int:
        trait = Int(default, **common, **bounds)
    elif kind is str:
        trait = Unicode(default, **common)
    else:
        raise TypeError(f"option {name!r}: no trait for {kind.__name__} values")
    return trait.tag(config=True)


if TYPE_CHECKING:
    ChatMagicsConfig = Magics
else:
    ChatMagicsConfig = type(
        "ChatMagicsConfig", (Magics,), {name: config_trait(name) for name in opts.names(opts.CONFIG)}
    )


def configured(magics: Any) -> opts.ChatOptions:
    """The session defaults: every config option's current trait value."""
    return opts.ChatOptions(**{name: getattr(magics, name) for name in opts.names(opts.CONFIG)})


__all__ = ["ChatMagicsConfig", "config_trait", "configured"]
