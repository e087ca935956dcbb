"""Fast regression eval: a fixed SciFact subset must keep nDCG@10 at or above the floors in
evals/baselines.json, for every retrieval mode listed there.

Reads ../shared/datasets in place (or $FOLIO_DATASETS_DIR); skips with a reason when absent.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def regression():
    from evals.datasets import DatasetNotFound, datasets_dir
    from evals.regression import load_baselines, regression_subset

    baselines = load_baselines()
    spec = baselines["regression"]
    try:
        subset = regression_subset(spec)
    except DatasetNotFound:
        pytest.skip(f"{spec['dataset']} not found at {datasets_dir() / spec['dataset']}")
    return spec, subset


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from evals.runner import EvalSession

    s = EvalSession(cache_root=tmp_path_factory.mktemp("eval-cache"))
    yield s
    s.close()


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_ndcg_at_10_stays_above_floor(regression, session, minilm, repo_root, mode):
    """The repo's config.yaml with only the mode switched: what ships is what is guarded."""
    from app.core.settings import load_settings

    spec, subset = regression
    base = load_settings(repo_root / "config.yaml", environ={}, check_paths=False).index
    cfg = base.model_copy(update={"retrieval": base.retrieval.model_copy(update={"mode": mode})})
    session.share_model(cfg, minilm)
    result = session.evaluate(subset, cfg, label=mode, depth=100, answers=False)
    floor = spec["floors"][mode]["ndcg@10"]
    assert result.metrics["ndcg@10"] >= floor, (
        f"{mode} nDCG@10 {result.metrics['ndcg@10']:.3f} fell below the floor {floor:.3f} "
        f"recorded in evals/baselines.json (measured then: {spec['measured'][mode]['ndcg@10']})"
    )


@pytest.fixture(scope="module")
def answer_regression():
    from evals.datasets import DatasetNotFound, datasets_dir
    from evals.regression import answer_subset, load_baselines

    spec = load_baselines()["answers"]
    try:
        subset = answer_subset(spec)
    except DatasetNotFound:
        pytest.skip(f"{spec['dataset']} not found at {datasets_dir() / spec['dataset']}")
    return spec, subset


def test_answers_stay_above_floor(answer_regression, session, minilm, repo_root):
    """The shipped config answers a fixed SQuAD subset (half its articles indexed): it must keep
    leading with the gold sentence, answering what it can and refusing what it cannot."""
    from app.core.settings import load_settings
    from evals.runner import answer_eval

    spec, subset = answer_regression
    cfg = load_settings(repo_root / "config.yaml", environ={}, check_paths=False).index
    session.share_model(cfg, minilm)
    summary, _ = answer_eval(session, subset, cfg, limit=spec["questions"])
    for metric, floor in spec["floors"].items():
        assert summary[metric] >= floor, (
            f"{metric} {summary[metric]:.3f} fell below the floor {floor} in evals/baselines.json"
            f" (measured then: {spec['measured'][metric]})"
        )
    assert summary["mean_sentences"] <= spec["max_mean_sentences"], summary
