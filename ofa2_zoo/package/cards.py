"""Model cards (README.md) for packaged members and fronts, rendered from ``MODEL_CARD.md``.

The repository's ``MODEL_CARD.md`` is the one template (Jinja2); the installed package reads it
through ``ofa2_zoo/data/MODEL_CARD.md``, a link to it. The YAML front matter is built with
``huggingface_hub.ModelCardData`` (``library_name: timm``, ``pipeline_tag``, tags, license,
datasets and a ``model-index`` with the accuracy results and how they were obtained), and every
rendered card is parsed back with ``huggingface_hub.ModelCard`` before it is written.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .._text import markdown_text
from .errors import PackageError

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "data" / "MODEL_CARD.md"


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    if not TEMPLATE_PATH.is_file():
        raise PackageError(f"model-card template {TEMPLATE_PATH} is missing (a link to MODEL_CARD.md)")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True, autoescape=False)
    env.filters["md"] = markdown_text  # text from outside (a profile's description) shown literally
    return env.from_string(TEMPLATE_PATH.read_text())


def eval_results(accuracy: dict[str, Any]) -> list[EvalResult]:
    """``model-index`` entries: the measured top-1 (if any) and the search-time value (if any)."""
    out = []
    measured, front = accuracy.get("measured"), accuracy.get("front")
    if measured:
        out.append(EvalResult(
            task_type="image-classification", task_name="Image Classification",
            dataset_type=measured["dataset_id"], dataset_name=measured["dataset"], dataset_split=measured["split"],
            metric_type="accuracy", metric_value=round(float(measured["value"]), 4),
            metric_name=f"top-1 accuracy (%), measured on {measured['n_images']} images after packaging"))
    if front:
        by = f" by {front['by']}" if front.get("by") else ""
        out.append(EvalResult(
            task_type="image-classification", task_name="Image Classification",
            dataset_type=front["dataset_id"], dataset_name=front["dataset"], dataset_split=front["split"],
            metric_type="accuracy", metric_value=round(float(front["value"]), 4),
            metric_name=f"top-1 accuracy (%), {front['source']}{by} during the search"))
    return out


def card_data(*, model_name: str, license: str, datasets: list[str], tags: list[str],
              accuracy: dict[str, Any] | None = None, base_model: str | None = None) -> ModelCardData:
    """The model card's YAML front matter (timm, image classification) for one member or the front.

    Args:
        model_name: The model's name on the card.
        license: The license identifier (``mit``, ``apache-2.0``, ...).
        datasets: Hub ids of the datasets it was trained on (may be empty).
        tags: The card's tags.
        accuracy: ``{"measured": ..., "front": ...}`` accuracies for the card's ``model-index``, or ``None``.
        base_model: The Hub id of the model it derives from, or ``None``.
    """
    results = eval_results(accuracy) if accuracy else None
    return ModelCardData(library_name="timm", pipeline_tag="image-classification", license=license,
                         tags=tags, datasets=datasets or None, model_name=model_name,
                         eval_results=results or None, base_model=base_model)


def render_card(kind: str, data: ModelCardData, context: dict[str, Any]) -> str:
    """Render the template for ``kind`` ("member" or "front") and check that the Hub can parse it."""
    try:
        text = _template().render(kind=kind, card_data=data.to_yaml(), **context)
    except jinja2.TemplateError as exc:
        raise PackageError(f"model card template: {exc}") from None
    card = ModelCard(text)  # raises on broken front matter
    if data.eval_results and not card.data.eval_results:
        raise PackageError("the rendered model card lost its model-index")
    return text
