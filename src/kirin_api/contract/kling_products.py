"""The official Kling API's products (its legacy v1 paths) and the models behind them.

Shared by the Kling dialect (which serves these paths) and the ``kling`` upstream engine (which
calls them), so that the two agree on which ``model_name`` means which model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kirin_api.contract.errors import InvalidParameter

T2V, I2V, MULTI = "kirin_v1_t2v", "kirin_v1_i2v", "kirin_v1_6_multi_i2v"
V3_I2V, MOTION, ELEMENTS = "kirin_v3_i2v", "kirin_v3_motion_control", "kirin_custom_elements"


@dataclass(frozen=True)
class Product:
    """One of Kling's products: its path and how its ``model_name`` picks a model."""

    path: str
    # model_name -> our model; None: the product has no model_name (it is a parameter error).
    model_names: dict[str, str] | None
    default_name: str | None = None
    fixed_model: str | None = None

    @property
    def models(self) -> list[str]:
        if self.model_names is None:
            return [str(self.fixed_model)]
        return list(dict.fromkeys(self.model_names.values()))

    def model_for(self, body: dict[str, Any]) -> str:
        """Our model id for ``body``, taking ``model_name`` (and Kling's older ``model``) out."""
        if self.model_names is None:
            return str(self.fixed_model)
        given = body.pop("model_name", None)
        legacy = body.pop("model", None)  # Kling's older name of the field
        name = given if given is not None else legacy
        if name is None or name == "":
            name = self.default_name
        if not isinstance(name, str) or name not in self.model_names:
            names = ", ".join(self.model_names)
            raise InvalidParameter(
                f"model_name must be one of {names} on {self.path} (the models this server "
                f"serves there); got {name!r}",
                param="model_name",
            )
        return self.model_names[name]


PRODUCTS = [
    Product("/v1/videos/text2video", {"kling-v1": T2V, "kling-v1-6": T2V}, "kling-v1"),
    Product(
        "/v1/videos/image2video",
        {"kling-v1": I2V, "kling-v1-5": I2V, "kling-v1-6": I2V, "kling-v3": V3_I2V},
        "kling-v1",
    ),
    Product("/v1/videos/multi-image2video", {"kling-v1-6": MULTI}, "kling-v1-6"),
    Product("/v1/videos/motion-control", {"kling-v2-6": MOTION, "kling-v3": MOTION}, "kling-v2-6"),
    Product("/v1/general/advanced-custom-elements", None, fixed_model=ELEMENTS),
]

# The model_name each model is sent upstream with by default (the engine's ``model_name``
# option overrides it): the first name Kling gives it on its product.
NATURAL_MODEL_NAME: dict[str, str | None] = {
    T2V: "kling-v1",
    I2V: "kling-v1",
    MULTI: "kling-v1-6",
    V3_I2V: "kling-v3",
    MOTION: "kling-v3",
    ELEMENTS: None,
}


def product_of(model: str) -> Product:
    """The product whose path serves ``model``."""
    for product in PRODUCTS:
        if model in product.models:
            return product
    raise KeyError(model)
