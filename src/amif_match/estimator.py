"""The scikit-learn estimator protocol, without importing scikit-learn to predict.

Importing anything from ``sklearn`` costs about a second and 70 MB (``sklearn.base`` pulls in
``scipy.stats``), while every fitted estimator here predicts with numpy alone. So the
estimators implement the protocol themselves, as scikit-learn's developer guide allows:
``__init__`` stores keyword arguments that :meth:`Estimator.get_params` reads back,
:meth:`~Estimator.set_params` handles nested ``a__b`` names, the ``repr`` lists changed
parameters and ``__sklearn_tags__`` answers scikit-learn's questions. ``sklearn.base.clone``,
pipelines and grid searches treat them like their own; scikit-learn is imported only to fit,
to score, and to raise its own :class:`~sklearn.exceptions.NotFittedError`.
"""

from __future__ import annotations

import copy
import inspect
from collections import defaultdict
from typing import Any, Self

import numpy as np

__all__ = ["Estimator", "check_is_fitted", "clone"]


class Estimator:
    """Base class: parameters are the keyword arguments of ``__init__``, stored unchanged."""

    _estimator_type: str | None = None

    @classmethod
    def _get_param_names(cls) -> list[str]:
        if cls.__init__ is object.__init__:
            return []
        parameters = inspect.signature(cls.__init__).parameters.values()
        names = []
        for p in parameters:
            if p.name == "self" or p.kind == p.VAR_KEYWORD:
                continue
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters by name; with ``deep``, those of nested estimators as ``name__param``."""
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set parameters (``name`` or nested ``name__param``); returns ``self``."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = defaultdict(dict)
        for name, value in params.items():
            key, delimiter, sub_key = name.partition("__")
            if key not in valid:
                raise ValueError(
                    # scikit-learn's wording, which callers may match on.
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. Valid "
                    f"parameters are: {self._get_param_names()!r}."
                )
            if delimiter:
                nested[key][sub_key] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub_params in nested.items():
            valid[key].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        signature = inspect.signature(type(self).__init__).parameters
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params(deep=False).items()
            if not _same(value, signature[name].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        # Only scikit-learn calls this, so scikit-learn is already imported.
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        tags = Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=False))
        if self._estimator_type == "classifier":
            tags.classifier_tags = ClassifierTags()
            tags.target_tags.required = True
        return tags


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if type(value) is not type(default) or isinstance(value, np.ndarray):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # values whose == is not a truth value
        return False


def clone(estimator: Any) -> Any:
    """An unfitted copy with the same parameters, as :func:`sklearn.base.clone` makes.

    Estimators from elsewhere (a scikit-learn calibrator a user passed) go to scikit-learn's
    own ``clone``, which their presence means is already imported.
    """
    if not isinstance(estimator, Estimator):
        from sklearn.base import clone as sklearn_clone

        return sklearn_clone(estimator)
    params = {
        name: clone(value)
        if hasattr(value, "get_params") and not isinstance(value, type)
        # Parameters must not be shared between an estimator and its clone.
        else copy.deepcopy(value)
        for name, value in estimator.get_params(deep=False).items()
    }
    return type(estimator)(**params)


def check_is_fitted(estimator: Any, attributes: str | list[str] | None = None) -> None:
    """Raise scikit-learn's ``NotFittedError`` unless ``estimator`` has learned attributes
    (any attribute ending in ``_``, or the ones named in ``attributes``)."""
    if attributes is None:
        fitted = any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    else:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        fitted = all(hasattr(estimator, name) for name in names)
    if not fitted:
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )
