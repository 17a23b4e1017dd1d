"""Generation tasks end to end on tiny random decoders: encoding, loss, batched decoding, LoRA
adapter-only fusion, trajectories and fusion records, the LoRA proxy of stage 1, Hub loaders."""

import pytest
import torch
from safetensors.torch import load_file

from bomf.core.errors import BomfError, OfflineError
from bomf.fusion import CheckpointPool
from bomf.evaluation.generation import GenerationEvaluator, collate_lm, encode_generation, lm_loss
from bomf.models import get_model
from bomf.models.lora import apply_lora, fused_names, saved_state
from bomf.fusion.pipeline import FusionRequest, run_fusion
from bomf.tasks import Split, SplitLimits, get_task
from bomf.training.request import TrainConfig, TrajectoryRequest
from bomf.training.build import build_model
from bomf.training.trajectory import train_trajectory

SUMM = get_task("aclsum-summ")
QA = get_task("aclsum-qa")
SOURCES = ["Summarize: the cat sat on the mat.", "Summarize: a dog ran far away.", "Summarize: rain.",
           "Summarize: stocks fell sharply today after the report.", "Summarize: tea is hot."]
REFS = ["cat sat.", "dog ran.", "rain fell.", "stocks fell.", "hot tea."]


def _sharp(model):
    """Scale every weight up so greedy argmaxes have wide margins (random models are near-uniform)."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    return model


def test_causal_encoding_masks_the_prompt_and_ends_targets_with_eos():
    spec = get_model("tiny-llama")
    tok = spec.load_tokenizer()
    enc = encode_generation(SUMM, spec, tok, Split(SOURCES[:2], None, REFS[:2]), max_length=64)
    batch = collate_lm(enc, [0, 1])
    for row in range(2):
        n_prompt, n_target = len(enc.prompt_ids[row]), len(enc.target_ids[row])
        labels = batch["labels"][row].tolist()
        assert labels[:n_prompt] == [-100] * n_prompt
        assert labels[n_prompt:n_prompt + n_target] == enc.target_ids[row]
        assert enc.target_ids[row][-1] == enc.eos_id
    assert tok.decode(enc.target_ids[0][:-1]) == "cat sat."


def test_prompts_are_truncated_but_targets_bounded_separately():
    spec = get_model("tiny-t5")
    enc = encode_generation(SUMM, spec, spec.load_tokenizer(), Split(["word " * 300], None, ["x " * 100]),
                            max_length=20, max_target_length=7)
    assert len(enc.prompt_ids[0]) <= 22  # 20 content tokens + [CLS]/[SEP]
    assert len(enc.target_ids[0]) == 8  # 7 + eos


@pytest.mark.parametrize("model_name", ["tiny-llama", "tiny-t5"])
def test_split_loss_is_the_token_weighted_mean_of_per_example_losses(model_name):
    spec = get_model(model_name)
    tok = spec.load_tokenizer()
    model = spec.build_generator(seed=0).eval()
    split = Split(SOURCES, None, REFS)
    res = GenerationEvaluator(SUMM, spec, tok, split, batch_size=4, max_new_tokens=3)(model)
    enc = encode_generation(SUMM, spec, tok, split, SUMM.max_length)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(len(SOURCES)):  # one example at a time: no padding at all
            s, c = lm_loss(model, collate_lm(enc, [i]), reduction="sum")
            total, count = total + float(s), count + c
    assert res.loss == pytest.approx(total / count, rel=1e-5)


@pytest.mark.parametrize("model_name", ["tiny-llama", "tiny-t5"])
@pytest.mark.parametrize("lora", [False, True])
def test_lm_loss_equals_the_libraries_own_loss(model_name, lora):
    # Guards the label shift (causal) and the decoder inputs built from labels (seq2seq), also
    # under the peft wrapper.
    spec = get_model(model_name)
    model = spec.build_generator(seed=0).eval()
    if lora:
        model = apply_lora(model, rank=2, targets=spec.lora_targets or ("q_proj",), seed=0)
    enc = encode_generation(SUMM, spec, spec.load_tokenizer(), Split(SOURCES, None, REFS), 64)
    batch = collate_lm(enc, [0, 1, 2, 3])
    with torch.no_grad():
        ours = lm_loss(model, batch)
        theirs = model(**batch).loss
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


@pytest.mark.parametrize("model_name", ["tiny-llama", "tiny-t5"])
def test_batched_greedy_decoding_equals_one_by_one(model_name):
    spec = get_model(model_name)
    tok = spec.load_tokenizer()
    model = _sharp(spec.build_generator(seed=1)).eval()
    split = Split(SOURCES, None, REFS)
    one = GenerationEvaluator(SUMM, spec, tok, split, batch_size=1, max_new_tokens=8).generate(model)
    batched = GenerationEvaluator(SUMM, spec, tok, split, batch_size=5, max_new_tokens=8).generate(model)
    assert batched == one
    assert any(p for p in one)  # it really generated something to compare
    # and every prediction belongs to its own example (batches are length-sorted internally)
    alone = [GenerationEvaluator(SUMM, spec, tok, split.select([i]), batch_size=1, max_new_tokens=8).generate(model)[0]
             for i in range(len(SOURCES))]
    assert batched == alone
    assert len(set(alone)) > 1


def test_adapter_only_fusion_leaves_the_base_weights_untouched():
    model = apply_lora(get_model("tiny-llama").build_generator(seed=0), rank=2, targets=("q_proj", "v_proj"), seed=0)
    base_before = {n: t.clone() for n, t in model.state_dict().items() if "lora_" not in n}
    names = fused_names(model)
    assert names and all("lora_" in n for n in names)
    members = []
    for k in range(3):
        g = torch.Generator().manual_seed(k)
        members.append({n: torch.randn(t.shape, generator=g) for n, t in saved_state(model).items()})
    pool = CheckpointPool(model, members, select=set(names).__contains__)
    assert sorted(pool.names) == sorted(names)
    pool.fuse([0.2, 0.3, 0.5])
    after = model.state_dict()
    for n, t in base_before.items():
        assert torch.equal(after[n], t), n
    for n in names:
        want = 0.2 * members[0][n] + 0.3 * members[1][n] + 0.5 * members[2][n]
        assert torch.allclose(after[n], want, atol=1e-6), n


def test_tied_weights_are_fused_once():
    # T5 ties shared / encoder / decoder embeddings: averaging identical members must give the member.
    model = get_model("tiny-t5").build_generator(seed=0)
    assert model.shared.weight.data_ptr() == model.encoder.embed_tokens.weight.data_ptr()  # really tied
    member = {n: t.clone() + 1.0 for n, t in model.state_dict().items()}
    pool = CheckpointPool(model, [member, member])
    pool.fuse([0.5, 0.5])
    assert torch.allclose(model.shared.weight, member["shared.weight"])
    assert torch.allclose(model.encoder.embed_tokens.weight, member["shared.weight"])


def _gen_request(task="aclsum-summ", model="tiny-llama", seed=0, **cfg):
    config = dict(lr=5e-3, batch_size=8, epochs=1, num_members=3, eval_batch_size=8, max_length=48,
                  max_target_length=12)
    config.update(cfg)
    return TrajectoryRequest(task, model, seed=seed, config=TrainConfig(**config), limits=SplitLimits(32, 8, 8))


def test_lora_trajectory_saves_adapters_only_and_fusion_runs_end_to_end():
    req = _gen_request()
    traj = train_trajectory(req)
    assert traj.info["lora_rank"] == get_model("tiny-llama").default_lora_rank > 0
    for path in traj.member_files + [traj.swa_file]:
        keys = load_file(str(path)).keys()
        assert keys and all("lora_" in k for k in keys)
    losses = [m["val"]["loss"] for m in traj.info["members"]]
    assert len(set(losses)) > 1  # the adapters really trained
    base = build_model(req)
    base_ref = {n: t.clone() for n, t in base.state_dict().items() if "lora_" not in n}
    for method in ("bomf", "learned_soup", "swa", "greedy_soup"):
        rec = run_fusion(FusionRequest(req, method, budget=3))
        assert set(rec["test"]["metrics"]) == {"rouge1", "rouge2", "rougeLsum"}
        assert len(rec["test"]["predictions"]) == rec["test"]["n"] == 8
        scores = rec["test"]["example_scores"]["rougeLsum"]
        assert sum(scores) / len(scores) == pytest.approx(rec["test"]["metrics"]["rougeLsum"])
    # the base weights of a fresh model equal those every member was trained on (adapters only move)
    again = {n: t for n, t in build_model(req).state_dict().items() if "lora_" not in n}
    assert all(torch.equal(again[n], t) for n, t in base_ref.items())


def test_full_fine_tuning_of_a_seq2seq_model_on_qa():
    req = _gen_request(task="aclsum-qa", model="tiny-t5")
    traj = train_trajectory(req)
    assert traj.info["lora_rank"] == 0
    rec = run_fusion(FusionRequest(req, "uniform_soup"))
    assert set(rec["test"]["metrics"]) == {"exact_match", "token_f1"}
    assert all(isinstance(p, str) for p in rec["test"]["predictions"]) and len(rec["test"]["predictions"]) == 8
    assert rec["weights"] == [pytest.approx(1 / 3)] * 3
    # full fine-tuning moved every member: their val losses differ
    assert len({m["val"]["loss"] for m in traj.info["members"]}) == 3
    em = rec["test"]["example_scores"]["exact_match"]
    assert sum(em) / len(em) == pytest.approx(rec["test"]["metrics"]["exact_match"])


def test_pool_keeps_distinct_views_of_one_storage_apart():
    from bomf.fusion.pool import tensor_key

    x = torch.zeros(4)
    assert tensor_key(x) != tensor_key(x[:2]) and tensor_key(x) == tensor_key(x.view(4))


def test_a_generation_task_must_use_text_metrics():
    from bomf.tasks import Task

    with pytest.raises(BomfError, match="must be text metrics"):
        Task(name="x", kind="generation", num_labels=0, metrics=("accuracy",), primary_metric="accuracy",
             load=lambda: None, source="offline", description="", target_of=str)


def test_a_model_of_the_wrong_kind_is_refused_with_one_line():
    with pytest.raises(BomfError, match="generation tasks need a decoder"):
        build_model(TrajectoryRequest("aclsum-summ", "tiny-bert", seed=0))
    with pytest.raises(BomfError, match="use an encoder"):
        build_model(TrajectoryRequest("rt-polarity", "tiny-llama", seed=0))


def test_stage1_proxy_of_a_lora_model_is_a_smaller_rank(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    from bomf.stage1.strategies import get_stage1

    base = TrainConfig(lr=5e-3, batch_size=8, epochs=1, num_members=2, eval_batch_size=8, max_length=48,
                       max_target_length=12)
    opts = dict(trials=2, n_init=2, lr=[1e-3, 1e-2], batch_size=[8, 16])
    proxy = get_stage1("bomf").choose("aclsum-summ", "tiny-llama", 0, base, SplitLimits(32, 8, 8), **opts)
    full = get_stage1("hpbo_full").choose("aclsum-summ", "tiny-llama", 0, base, SplitLimits(32, 8, 8), **opts)
    assert proxy.info["proxy_lora_rank"] == 1 and proxy.info["freeze_layers"] == 0
    # same Sobol points, same tokens: the rank-1 proxy trains fewer adapter parameters
    assert [t["values"] for t in proxy.info["trials"]] == [t["values"] for t in full.info["trials"]]
    assert proxy.costs["flops_estimate"] < full.costs["flops_estimate"]
    assert proxy.config.lora_rank is None  # the trajectory keeps the model's own rank
    with pytest.raises(BomfError, match="not below"):
        get_stage1("bomf").choose("aclsum-summ", "tiny-llama", 0, base, None, proxy_rank=4)


def test_hub_generation_loaders_on_local_fixtures(monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("BOMF_HUB_DATA_DIR", str(Path(__file__).parent.parent / "fixtures" / "hub"))
    squad = get_task("squad_v2").load_splits()
    assert squad.sizes() == {"train": 27, "val": 3, "test": 2}
    assert squad.test.labels == [["Paris", "in Paris"], []]
    assert squad.test.text_a[0].startswith("question: Where does Ann live? context: Ann lives")
    assert get_task("squad_v2").target([]) == "unanswerable"
    samsum = get_task("samsum").load_splits()
    assert samsum.sizes() == {"train": 4, "val": 1, "test": 1}
    assert samsum.test.labels == ["A and B meet at 5."]


def test_hub_generation_tasks_fail_offline_with_one_line(monkeypatch):
    monkeypatch.delenv("BOMF_HUB_DATA_DIR", raising=False)
    with pytest.raises(OfflineError, match="aclsum-summ"):
        get_task("squad_v2").load_splits()


def test_packaged_smollm2_converts_once_and_decodes_with_its_chat_template():
    """The offline decoder: GGUF -> cached safetensors (first use ~1 min), chat template, batching."""
    spec = get_model("smollm2-135m")
    tok = spec.load_tokenizer()
    model = apply_lora(spec.build_generator(seed=0), rank=2, targets=spec.lora_targets, seed=0).eval()
    split = Split(["What is 2 + 2? Answer with a number.", "Name a colour."], None, ["4", "red"])
    enc = encode_generation(SUMM, spec, tok, split, 64)
    assert tok.decode(enc.prompt_ids[0]).rstrip().endswith("<|im_start|>assistant")
    assert tok.decode(enc.target_ids[1]) == "red<|im_end|>"
    one = GenerationEvaluator(SUMM, spec, tok, split, batch_size=1, max_new_tokens=6).generate(model)
    two = GenerationEvaluator(SUMM, spec, tok, split, batch_size=2, max_new_tokens=6).generate(model)
    assert one == two and all(one)
