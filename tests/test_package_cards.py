"""Model cards (``ofa2_zoo.package.cards``) without packaging: the ``model-index`` entries and
the YAML front matter read back from a rendered card and compared with the values they came
from, the member and front templates, and the two ways a card is refused."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard

from ofa2_zoo.package import PackageError
from ofa2_zoo.package import cards

MEASURED = {"value": 91.234567, "n_images": 397, "dataset": "digits", "dataset_id": "sklearn-digits", "split": "test"}
FRONT = {"value": 88.888888, "source": "predicted", "by": "digits-predictor", "dataset": "digits-train",
         "dataset_id": "sklearn-digits-train", "split": "val"}

PROVENANCE = {"front_version_id": "ab" * 32, "algorithm": "nsga2", "seed": 7, "evaluations": 1234,
              "supernet_id": "ofa2_test_tiny", "supernet_sha256": None, "weights_id": "w-1", "accuracy_id": "acc-1",
              "accuracy_sha256": None, "accuracy_source": "predicted", "profile_sha256": None, "lut_sha256": None,
              "package_version": "0.0.0"}
PROFILE = {"id": "tiny-test", "description": "test profile", "device_class": "cpu"}


def member_context(**changes) -> dict:
    """Everything the member card shows (the keys ``package._member_context`` fills)."""
    ctx = {
        "name": "ofa2_tiny_test_front_1", "k": 1, "n_members": 3, "folder": "members/front_1",
        "hub_repo": "ofa2-tiny-test-front-1", "profile": PROFILE, "plot_file": "front.png",
        "arch_string": "r16-d1-k3e3", "arch_json": '{"r": [16]}', "resolution": 16, "in_chans": 1, "num_classes": 10,
        "mean": [0.3], "std": [0.4], "interpolation": "bilinear", "crop_pct": 1.0, "check_data": None,
        "weights_dtype": "float32", "macs_m": 1.5, "params_m": 0.25,
        "accuracy": {"measured": MEASURED, "front": FRONT},
        "latency": {"front": None, "measured": None}, "onnx": {"opset": 17, "input": "input", "output": "logits"},
        "parity": {"n_images": 397, "max_abs_diff": 1e-6, "tolerance": 1e-4, "top1_agreement": 1.0},
        "tensorrt": {"built": False, "reason": "no GPU", "command": "trtexec --onnx=model.onnx", "settings": None},
        "calibration": {"images": 2000, "batch": 200, "seed": 0, "dataset": "digits", "split": "train"},
        "provenance": PROVENANCE, "limitations": [],
    }
    ctx.update(changes)
    return ctx


def front_context(**changes) -> dict:
    """Everything the front (index) card shows (the keys ``package._write_front`` fills)."""
    ctx = {
        "title": "ofa2_tiny_test_front", "profile": PROFILE, "provenance": PROVENANCE, "front_size": 4,
        "plot_file": "front.png", "in_chans": 1, "prefix": "ofa2_tiny_test", "hypervolume": 0.5,
        "reference_point": {"latency_ms": 1.0, "top1": 0.0}, "measured_note": "397 images",
        "top1_source": "predicted", "latency_source": "measured", "latency_by": None,
        "members": [{"k": 0, "name": "ofa2_tiny_test_front_0", "top1_measured": 90.0, "top1_front": 88.0,
                     "latency_ms": 0.1, "macs_m": 1.0, "params_m": 0.2, "resolution": 12}],
    }
    ctx.update(changes)
    return ctx


def data(**changes):
    kw = {"model_name": "ofa2_tiny_test_front_1", "license": "apache-2.0", "datasets": ["sklearn-digits"],
          "tags": ["timm", "profile-tiny-test"], "accuracy": {"measured": MEASURED, "front": FRONT}}
    kw.update(changes)
    return cards.card_data(**kw)


def _entries(card: ModelCard) -> list[dict]:
    return [{"task_type": r.task_type, "task_name": r.task_name, "dataset_type": r.dataset_type,
             "dataset_name": r.dataset_name, "dataset_split": r.dataset_split, "metric_type": r.metric_type,
             "metric_value": r.metric_value, "metric_name": r.metric_name} for r in card.data.eval_results]


def test_the_model_index_read_back_from_a_card_is_the_accuracy_it_was_given():
    card = ModelCard(cards.render_card("member", data(), member_context()))
    task = {"task_type": "image-classification", "task_name": "Image Classification", "metric_type": "accuracy"}
    assert _entries(card) == [
        {**task, "dataset_type": MEASURED["dataset_id"], "dataset_name": MEASURED["dataset"],
         "dataset_split": MEASURED["split"], "metric_value": round(MEASURED["value"], 4),
         "metric_name": f"top-1 accuracy (%), measured on {MEASURED['n_images']} images after packaging"},
        {**task, "dataset_type": FRONT["dataset_id"], "dataset_name": FRONT["dataset"],
         "dataset_split": FRONT["split"], "metric_value": round(FRONT["value"], 4),
         "metric_name": f"top-1 accuracy (%), {FRONT['source']} by {FRONT['by']} during the search"}]
    assert [e["metric_value"] for e in _entries(card)] == [91.2346, 88.8889]  # 4 decimals, rounded


def test_the_front_matter_read_back_is_what_card_data_was_given():
    card = ModelCard(cards.render_card("member", data(base_model="timm/some-base"), member_context()))
    d = card.data
    assert (d.library_name, d.pipeline_tag, d.license) == ("timm", "image-classification", "apache-2.0")
    assert d.tags == ["timm", "profile-tiny-test"] and d.datasets == ["sklearn-digits"]
    assert d.model_name == "ofa2_tiny_test_front_1" and d.base_model == "timm/some-base"
    assert card.text.startswith("# ofa2_tiny_test_front_1\n")  # the member branch of the template


def test_a_search_value_without_its_source_names_no_one_and_a_missing_value_is_no_entry():
    front = {k: v for k, v in FRONT.items() if k != "by"}
    only_front = cards.eval_results({"front": front})
    assert [r.metric_name for r in only_front] == ["top-1 accuracy (%), predicted during the search"]
    assert cards.eval_results({"front": {**front, "by": None}})[0].metric_name == only_front[0].metric_name
    only_measured = cards.eval_results({"measured": MEASURED, "front": None})
    assert [r.metric_name for r in only_measured] == ["top-1 accuracy (%), measured on 397 images after packaging"]
    assert cards.eval_results({}) == [] and cards.eval_results({"measured": None, "front": None}) == []


def test_no_datasets_and_no_accuracy_leave_those_fields_out():
    d = data(datasets=[], accuracy=None)
    assert d.datasets is None and d.eval_results is None and d.base_model is None
    assert "datasets" not in d.to_yaml() and "model-index" not in d.to_yaml()
    assert data(accuracy={"measured": None, "front": None}).eval_results is None
    card = ModelCard(cards.render_card("front", d, front_context()))
    assert card.data.eval_results is None and card.data.model_name == "ofa2_tiny_test_front_1"


def test_the_front_card_renders_the_front_branch():
    text = cards.render_card("front", data(accuracy=None), front_context())
    assert "\n# ofa2_tiny_test_front\n" in text and "| 0 | `ofa2_tiny_test_front_0` | 90.00 | 88.00 |" in text
    assert "# ofa2_tiny_test_front_1\n" not in text


def test_a_value_the_template_needs_but_is_not_given_is_a_package_error():
    ctx = member_context()
    del ctx["hub_repo"]
    with pytest.raises(PackageError) as exc:
        cards.render_card("member", data(), ctx)
    assert str(exc.value) == "model card template: 'hub_repo' is undefined"
    with pytest.raises(PackageError) as exc:  # the member's keys do not make a front card
        cards.render_card("front", data(), member_context())
    assert str(exc.value) == "model card template: 'title' is undefined"


def test_a_card_that_loses_its_model_index_is_refused(monkeypatch):
    import jinja2

    # a template that writes the front matter without the model-index that card_data holds
    lossy = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        "---\n{{ card_data.split('model-index')[0] }}---\n# {{ name }}\n")
    monkeypatch.setattr(cards, "_template", lambda: lossy)
    with pytest.raises(PackageError) as exc:
        cards.render_card("member", data(), member_context())
    assert str(exc.value) == "the rendered model card lost its model-index"
    # without a model-index to lose, the same template is fine
    assert cards.render_card("member", data(accuracy=None), member_context()).endswith("# ofa2_tiny_test_front_1")
