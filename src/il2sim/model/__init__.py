"""Model specification, compilation and the model library."""

from il2sim.model.compile import CompiledModel, compile_model
from il2sim.model.fingerprint import model_fingerprint
from il2sim.model.library import MODELS, get_model, list_models
from il2sim.model.spec import (
    DoseRoute,
    Event,
    Input,
    Intermediate,
    Model,
    ModelError,
    Observable,
    Param,
    State,
)

__all__ = ["MODELS", "CompiledModel", "DoseRoute", "Event", "Input", "Intermediate", "Model",
           "ModelError", "Observable", "Param", "State", "compile_model", "get_model",
           "list_models", "model_fingerprint"]
