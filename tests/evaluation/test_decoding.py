"""The fast evaluation path (evaluation/decoding.py, kvcache.py): greedy token ids identical to
Hugging Face `generate` one question at a time (tiny Llama that learned its answers, tiny Cohere,
LoRA adapters), batched or not; scores within 1e-5 of the one-pair-per-forward baseline with one
prefill per question for scoring and generation; finished answers compacted out; the generation
budget, the batch-token cap and the fallbacks; open-unlearning's algorithm (tools/peer_eval.py)
gives the same values. No timing here: speed is measured by `polyunlearn bench`."""

from __future__ import annotations

import copy

import pytest
import torch

from polyunlearn.core.encoding import Encoder
from polyunlearn.core.models import LoraSettings, add_lora, build_tiny_model, train_tokenizer
from polyunlearn.evaluation import decoding
from polyunlearn.evaluation.decoding import Job, Limits, job_batches, length_chunks
from polyunlearn.evaluation.kvcache import BufferCache, FastModel, greedy_argmax
from polyunlearn.evaluation.records import EvalConfig, generation_budget, item_pairs
from polyunlearn.evaluation.scoring import generate_token_ids, score_and_generate_ids, score_pairs
from polyunlearn.tools.bench import baseline_score_pair, bench_items

TOL = 1e-5


def hf_ids(model, tok, prompt: tuple[int, ...], max_new: int) -> list[int]:
    """HF generate on one prompt alone (no padding): the generated ids, EOS included."""
    ids = torch.tensor([prompt])
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return out[0, len(prompt) :].tolist()


def check_identical_to_hf(model, tok, questions, max_new: int) -> list[list[int]]:
    enc = Encoder(tok)
    assert FastModel.resolve(model) is not None  # the fast path, not a fallback, is under test
    batched = generate_token_ids(model, enc, questions, max_new, max_batch=64)
    single = generate_token_ids(model, enc, questions, max_new, max_batch=1)
    want = [hf_ids(model, tok, enc.prompt(q), max_new) for q in questions]
    assert batched == single == want
    return batched


def test_llama_that_learned_its_answers_matches_hf_generate(learned, tokenizer, items):
    """The learned model ends its answers with EOS after different lengths, so rows finish at
    different steps, leave the batch (compaction), and prompts of different lengths share it."""
    questions = [it.question for it in items[::2]]
    lengths = {len(Encoder(tokenizer).prompt(q)) for q in questions}
    calls = []
    orig = BufferCache.keep_rows
    BufferCache.keep_rows = lambda self, rows: (calls.append(len(rows)), orig(self, rows))[1]
    try:
        got = check_identical_to_hf(learned.eval(), tokenizer, questions, 40)
    finally:
        BufferCache.keep_rows = orig
    eos = tokenizer.eos_token_id
    assert len(lengths) > 3 and sum(g[-1] == eos for g in got) > len(got) // 2
    assert len({len(g) for g in got}) > 2 and calls  # answers of several lengths; finished rows dropped


def test_cohere_matches_hf_generate():
    items = bench_items(["en", "ja"], 4)
    tok = train_tokenizer([t for it in items for t in (it.question, it.answer)], vocab_size=400)
    model = build_tiny_model(tok, "cohere", seed=2).eval()  # tied embeddings, logit scale, parallel blocks
    check_identical_to_hf(model, tok, [it.question for it in items], 12)


def test_lora_adapters_match_hf_generate(learned, tokenizer, items):
    lora = add_lora(copy.deepcopy(learned), LoraSettings(r=4))
    torch.manual_seed(0)
    for name, p in lora.named_parameters():
        if "lora_B" in name:  # B starts at zero; make the adapters change the output
            p.data.normal_(0, 0.05)
    questions = [it.question for it in items[:12]]
    with_adapters = check_identical_to_hf(lora.eval(), tokenizer, questions, 16)
    assert with_adapters != generate_token_ids(learned.eval(), Encoder(tokenizer), questions, 16)  # adapters active


def test_one_prefill_per_question_for_scores_and_answer(learned, tokenizer, items):
    """Tokens through the embedding, by hand, for one question (prompt length n) with 3 answers
    (longest L tokens, EOS included) and a greedy answer of k tokens from a random model (no EOS
    before k): the prefix p[:-1] once (n - 1), 3 scoring rows of 1 + L ([p[-1]] + answer, padded),
    then p[-1] again to start generation and k - 1 generated tokens fed back: k."""
    model = build_tiny_model(tokenizer, "llama", seed=5).eval()
    it = items[0]
    answers = [it.answer, *it.perturbed_answer[:2]]
    enc = Encoder(tokenizer)
    n, L, k = len(enc.prompt(it.question)), max(len(enc.answer(a)) for a in answers), 7
    seen: list[int] = []
    hook = model.get_input_embeddings().register_forward_hook(lambda m, inp, out: seen.append(inp[0].numel()))
    try:
        scores, ids = score_and_generate_ids(model, enc, [(it.question, a) for a in answers], [it.question], k)
    finally:
        hook.remove()
    assert len(ids[0]) == k and tokenizer.eos_token_id not in ids[0]
    assert sum(seen) == (n - 1) + 3 * (1 + L) + k
    base = [baseline_score_pair(model, tokenizer, it.question, a) for a in answers]
    assert max(abs(s.mean_nll - b.mean_nll) for s, b in zip(scores, base)) < TOL
    assert ids[0] == hf_ids(model, tokenizer, enc.prompt(it.question), k)


def test_joint_scores_match_the_baseline_and_do_not_depend_on_generation(learned, tokenizer, items):
    pairs, _ = item_pairs(items[:20])
    enc = Encoder(tokenizer)
    joint, _ = score_and_generate_ids(
        learned, enc, pairs, [it.question for it in items[:20]], 8, max_tokens=600, max_batch=7
    )
    alone = score_pairs(learned, enc, pairs)
    base = [baseline_score_pair(learned, tokenizer, q, a) for q, a in pairs]
    for j, a, b in zip(joint, alone, base):
        assert j.n_tokens == b.n_tokens and abs(j.mean_nll - b.mean_nll) < TOL and abs(a.mean_nll - b.mean_nll) < TOL
        assert max(abs(x - y) for x, y in zip(j.token_logps, b.token_logps)) < TOL


def test_job_batches_keep_rows_and_tokens_within_limits():
    """Prompts of lengths 3, 5, 5, 9, 12; generating with 10 new tokens, a batch's cache holds
    rows x (longest prompt - 1 + 10) positions. Budget 40, max 3 rows, by hand:
    [3, 5, 5]: 3 x (4 + 10) = 42 > 40, so [3, 5] (2 x 14 = 28), then [5, 9] (2 x 18 = 36),
    then [12] alone (21; a single prompt always runs)."""
    jobs = [Job(tuple(range(n)), generate=True) for n in (9, 3, 12, 5, 5)]
    got = [
        [len(j.prompt) for j in b] for b in job_batches(jobs, Limits(batch_tokens=40, max_batch=3, max_new_tokens=10))
    ]
    assert got == [[3, 5], [5, 9], [12]]
    # Scoring only (no generation): widths 2, 4, 4, 8, 11 -> [3, 5, 5] (3 x 4 = 12), [9, 12] (2 x 11).
    scoring = [Job(j.prompt) for j in jobs]
    assert [[len(j.prompt) for j in b] for b in job_batches(scoring, Limits(40, 3, 10))] == [[3, 5, 5], [9, 12]]


def test_length_chunks_cut_where_padding_would_exceed_the_slack():
    """Lengths 10, 10, 11, 20, 20 with slack 0.15 and min_tokens 20: after [10, 10] (20 real
    tokens), adding 11 pads to 3 x 11 = 33 <= 1.15 x 31 = 35.7, kept; adding 20 pads to
    4 x 20 = 80 > 1.15 x 51 = 58.7: cut. Then [20, 20]."""
    assert length_chunks([10, 10, 11, 20, 20], slack=0.15, min_tokens=20) == [(0, 3), (3, 5)]
    assert length_chunks([4, 30], min_tokens=512) == [(0, 2)]  # tiny chunks are not worth a forward


def test_greedy_argmax_is_torch_argmax_with_first_index_on_ties():
    torch.manual_seed(0)
    x = torch.randn(5, 1300)  # 5 blocks of 256 and a tail of 20
    x[0, 7] = x[0, 300] = 9.0  # tie across blocks: the first wins
    x[1, 1290] = 9.0  # the maximum in the tail
    x[2, 1290] = x[2, 3] = 9.0  # tie between a block and the tail: the block (earlier) wins
    x[3, 600] = float("nan")  # NaN counts as the maximum
    x[4, 1299] = float("nan")
    assert greedy_argmax(x).tolist() == x.argmax(-1).tolist() == [7, 1290, 3, 600, 1299]


def test_buffer_cache_gathers_and_compacts_rows():
    cache = BufferCache(n_layers=1, capacity=4)
    k = torch.arange(3 * 2, dtype=torch.float).view(3, 1, 2, 1)  # rows 0, 1, 2; 2 columns
    cache.update(k, -k, 0)
    g = cache.gather(torch.tensor([2, 0, 2]), capacity=3)
    assert g.layers[0].keys[:, 0, :2, 0].tolist() == [[4.0, 5.0], [0.0, 1.0], [4.0, 5.0]] and g.filled == 2
    cache.keep_rows(torch.tensor([2, 1]))
    assert cache.layers[0].keys[:, 0, :2, 0].tolist() == [[4.0, 5.0], [2.0, 3.0]]
    assert cache.layers[0].values[:, 0, :2, 0].tolist() == [[-4.0, -5.0], [-2.0, -3.0]]


def test_generation_settings_beyond_greedy_fall_back_to_hf_generate(learned, tokenizer, items):
    model = learned.eval()
    model.generation_config.repetition_penalty = 1.5
    questions = [it.question for it in items[:6]]
    enc = Encoder(tokenizer)
    got = generate_token_ids(model, enc, questions, 12)
    assert got == [hf_ids(model, tokenizer, enc.prompt(q), 12) for q in questions]


def test_sliding_window_models_do_not_take_the_fast_path(tokenizer):
    model = build_tiny_model(tokenizer, "llama", seed=0)
    model.config.sliding_window = 8  # the fast path's 4D masks would be wrong on such layers
    assert FastModel.resolve(model) is None


def test_default_budget_is_longest_gold_answer_plus_margin(tokenizer, items):
    """Longest answer L tokens (EOS included): L + max(16, ceil(L / 4))."""
    enc = Encoder(tokenizer)
    L = max(len(enc.answer(it.answer)) for it in items)
    assert generation_budget(EvalConfig(), enc, items)[0] == L + max(16, -(-L // 4))
    assert generation_budget(EvalConfig(max_new_tokens=200), enc, items)[0] == 200


@pytest.mark.parametrize(
    "field,value", [("max_new_tokens", -1), ("eval_batch_tokens", 0), ("max_batch", 0), ("generation_backend", "trt")]
)
def test_eval_config_refuses_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        EvalConfig(**{field: value})


def test_eval_cli_checks_settings_before_loading(tmp_path):
    from helpers.cli import runner
    from polyunlearn.cli import app

    res = runner.invoke(
        app, ["eval", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--eval-batch-tokens", "0"]
    )
    assert res.exit_code == 2 and "eval_batch_tokens" in res.output and "missing" not in res.output


def test_run_jobs_reuses_the_scoring_prefill_for_generation(learned, tokenizer, items):
    """One _prefill per batch of prompts serves both: with one batch, exactly one call."""
    calls = []
    orig = decoding._prefill
    decoding._prefill = lambda *a, **k: (calls.append(1), orig(*a, **k))[1]
    try:
        pairs, _ = item_pairs(items[:5])
        score_and_generate_ids(learned, Encoder(tokenizer), pairs, [it.question for it in items[:5]], 4)
    finally:
        decoding._prefill = orig
    assert calls == [1]


def test_open_unlearning_algorithm_gives_our_values(learned, tokenizer, items):
    from polyunlearn.tools.peer_eval import peer_generate, peer_prob, peer_truth_ratio

    sub = items[:40]  # two batches of 32, the second partial
    model = learned.eval()
    enc = Encoder(tokenizer)
    ours = score_pairs(model, enc, [(it.question, it.answer) for it in sub])
    assert max(abs(a - b.mean_nll) for a, b in zip(peer_prob(model, tokenizer, sub), ours)) < TOL
    para, wrong = peer_truth_ratio(model, tokenizer, sub)
    mine = score_pairs(model, enc, [(it.question, w) for it in sub for w in it.perturbed_answer])
    assert max(abs(a - b.mean_nll) for a, b in zip([x for w in wrong for x in w], mine)) < TOL
    assert len(para) == sum(1 for it in sub if it.paraphrased_answer)
    answers = [
        Encoder(tokenizer).tok.decode(x, skip_special_tokens=True).strip()
        for x in generate_token_ids(model, enc, [it.question for it in sub], 20)
    ]
    assert peer_generate(model, tokenizer, sub, 20) == answers


def test_bench_json_prints_the_ratio_table_per_model_and_part(tmp_path):
    import json

    from helpers.cli import runner
    from polyunlearn.cli import app

    args = [
        "bench",
        "--out",
        str(tmp_path),
        "--sizes",
        "tiny",
        "--languages",
        "en",
        "--items-per-lang",
        "3",
        "--max-new-tokens",
        "3",
        "--eval-batch-tokens",
        "2048,512",
        "--unlearn-steps",
        "1",
        "--batch-size",
        "2",
        "--json",
    ]
    res = runner.invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    table = json.loads(res.stdout[res.stdout.index("{") :])
    parts = {"prob", "truth_ratio", "scoring", "generation", "total", "generation_3", "total_3"}
    assert set(table) == {"tiny"} and set(table["tiny"]) == parts
    for cell in table["tiny"].values():
        assert (
            len(cell["vs_peer"]) == len(cell["vs_batch1"]) == 3
            and cell["vs_peer"][0] <= cell["vs_peer"][1] <= cell["vs_peer"][2]
        )
        assert 0 < cell["flops_fraction"] < 2
    assert set(table["tiny"]["total"]["peak_mib"]) == {"ours", "peer", "batch1"}
    row = json.loads((tmp_path / "results.json").read_text())["sizes"][0]
    assert row["eval_max_abs_nll_diff"] < TOL and row["eval_generated_identical"] is True
    assert [s["eval_batch_tokens"] for s in row["eval_batch_tokens_sweep"]] == [2048, 512]


def test_batched_tokenization_gives_the_ids_of_one_text_at_a_time(tokenizer, items):
    warm, cold = Encoder(tokenizer), Encoder(tokenizer)
    warm.warm([it.question for it in items], [a for it in items for a in (it.answer, *it.perturbed_answer)])
    for it in items:
        assert warm.prompt(it.question) == cold.prompt(it.question)
        assert all(warm.answer(a) == cold.answer(a) for a in (it.answer, *it.perturbed_answer))


def test_fast_path_statistics_by_hand():
    """The LM head is the identity here, so hidden rows are the logits. Rows (0, ln 3) give
    p = (1/4, 3/4): log p(1) = ln 3/4, log p(0) = ln 1/4; mu = 3/4 ln 3 - ln 4 and
    var = 3/16 (ln 3)^2 (two-point distribution, as test_reference_parity works out). Row 3 is
    (ln 3, 0): target 0 is its argmax. Only rows 1 and 3 are marked: their mu / var / argmax
    come back in row order, and no chunk size (1 row, or all) changes a number."""
    import math

    fm = FastModel(decoder=None, head=lambda h: h, n_layers=0, vocab=2, device=torch.device("cpu"))
    ln3 = math.log(3)
    hidden = torch.tensor([[0.0, ln3], [0.0, ln3], [ln3, 0.0]])
    targets = torch.tensor([1, 0, 0])
    for chunk in (2, 2**23):
        logp, (mu, var, top1) = decoding.answer_scores(fm, hidden, targets, [True, False, True], chunk_elems=chunk)
        assert logp.tolist() == pytest.approx([math.log(0.75), math.log(0.25), math.log(0.75)])
        assert mu.tolist() == pytest.approx([0.75 * ln3 - math.log(4)] * 2)
        assert var.tolist() == pytest.approx([3 / 16 * ln3**2] * 2)
        assert top1.tolist() == [True, True]
    logp, extra = decoding.answer_scores(fm, hidden, targets)  # nothing marked: log-probs only
    assert len(logp) == 3 and [len(x) for x in extra] == [0, 0, 0]


def _paths(monkeypatch, learned, enc, pairs, flags, questions):
    """Scores (and answers) on the fast path, the model-cache prefix-sharing path and simple batching."""
    fast, ids = score_and_generate_ids(learned, enc, pairs, questions, 8, max_tokens=600, max_batch=7, detail=flags)
    simple = score_pairs(learned, enc, pairs, share_prefix=False, detail=flags)
    with monkeypatch.context() as m:
        m.setattr(FastModel, "resolve", classmethod(lambda cls, model: None))  # the previous default path
        shared = score_pairs(learned, enc, pairs, share_prefix=True, detail=flags)
    return fast, ids, simple, shared


def test_fast_path_detail_statistics_equal_the_main_line_paths(monkeypatch, learned, tokenizer, items):
    """Items' answers (as score_items marks them) and a wrong answer each marked, in several batches and sub-batches (600
    cached positions, 7 rows) while generating: per-token mu / var within 1e-5 and the same
    argmax flags as both previous paths; unmarked pairs carry none; log-probs and greedy answers
    are the ones computed without statistics."""
    model = learned.eval()
    assert FastModel.resolve(model) is not None
    pairs, slots = item_pairs(items[:16])
    flags = [False] * len(pairs)
    for sl in slots:  # the answer, as score_items marks it, and a wrong answer (argmax misses there)
        flags[sl.answer] = True
        flags[sl.first_perturbed] = sl.n_perturbed > 0
    pairs.append(pairs[slots[0].answer])  # a duplicate of a marked pair, itself unmarked: scored once
    flags.append(False)
    enc = Encoder(tokenizer)
    questions = [it.question for it in items[:16]]
    fast, ids, simple, shared = _paths(monkeypatch, model, enc, pairs, flags, questions)
    plain, plain_ids = score_and_generate_ids(model, enc, pairs, questions, 8, max_tokens=600, max_batch=7)
    assert ids == plain_ids
    for k, (f, s, h, p) in enumerate(zip(fast, simple, shared, plain)):
        assert f.token_logps == p.token_logps and f.ends_with_eos == s.ends_with_eos == h.ends_with_eos
        if k == len(pairs) - 1:  # the duplicate shares its marked twin's Score (as prefix sharing did)
            assert f.token_mu == fast[slots[0].answer].token_mu != []
            continue
        if not flags[k]:
            assert f.token_mu == f.token_var == f.token_top1 == []
            continue
        assert len(f.token_mu) == len(f.token_var) == len(f.token_top1) == f.n_tokens
        for other in (s, h):
            assert max(abs(a - b) for a, b in zip(f.token_mu, other.token_mu)) < TOL
            assert max(abs(a - b) for a, b in zip(f.token_var, other.token_var)) < TOL
            assert f.token_top1 == other.token_top1
            assert max(abs(a - b) for a, b in zip(f.token_logps, other.token_logps)) < TOL
    marked = [f.token_top1 for f, d in zip(fast, flags) if d]
    assert any(map(any, marked)) and not all(map(all, marked))  # argmax hits and misses both occur


def test_score_items_token_metrics_equal_the_main_line_path(learned, tokenizer, items):
    """Min-K%, Min-K%++, Exact Memorization and Extraction Strength of every record within 1e-5
    of simple batching (no fast path), with the truth-ratio notes and the greedy budget kept."""
    import dataclasses

    from polyunlearn.evaluation.records import score_items

    sub = list(items[:10])
    sub[0] = dataclasses.replace(sub[0], paraphrased_answer="", split="forget")
    fast = score_items(learned.eval(), tokenizer, sub, EvalConfig(max_new_tokens=6))
    slow = score_items(learned.eval(), tokenizer, sub, EvalConfig(max_new_tokens=6, prefix_sharing=False))
    assert fast[0]["truth_ratio_unavailable"] == slow[0]["truth_ratio_unavailable"] == "no paraphrased_answer"
    for f, s in zip(fast, slow):
        assert f["gen_max_new_tokens"] == 6 and f["generated"] == s["generated"]
        for key in ("min_k", "min_k_plus_plus", "exact_memorization", "extraction_strength"):
            assert f[key] is not None and abs(f[key] - s[key]) < TOL, key


def test_eval_takes_max_tokens_as_the_old_name_of_eval_batch_tokens(tmp_path):
    """`--max-tokens` (main's name before the fast path) sets eval_batch_tokens in the run identity
    (a dry run: no model loads); beside a different --eval-batch-tokens it is refused."""
    import json

    from helpers.cli import runner
    from polyunlearn.cli import app

    args = ["eval", "--model", "tiny", "--out", str(tmp_path / "o"), "--langs", "en", "--dry-run"]
    res = runner.invoke(app, [*args, "--max-tokens", "4096"])
    assert res.exit_code == 0, res.output
    ident = json.loads(res.stdout[res.stdout.index("{") : res.stdout.rindex("}") + 1])
    assert ident["evaluation"]["eval"]["eval_batch_tokens"] == 4096
    res = runner.invoke(app, [*args, "--max-tokens", "4096", "--eval-batch-tokens", "2048"])
    assert res.exit_code == 2 and "contradicts --eval-batch-tokens 2048" in res.output
