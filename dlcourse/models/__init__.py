"""Model builders (keras.applications-style arguments) behind one registry."""

from dlcourse.models.registry import create_model, list_models, model_family, register_model

__all__ = ["create_model", "list_models", "model_family", "register_model"]
