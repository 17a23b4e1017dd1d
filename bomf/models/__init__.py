"""Model registry: name -> how to load it (packaged path, Hub id, or a tiny random config).

Example:
    >>> from bomf.models import get_model
    >>> get_model("minilm").source
    'packaged'
"""

from .registry import MODELS, ModelSpec, get_model, register_model
from .proxy import count_parameters_for_flops, find_layer_list, freeze_bottom_layers

__all__ = ["MODELS", "ModelSpec", "get_model", "register_model", "freeze_bottom_layers", "find_layer_list", "count_parameters_for_flops"]
