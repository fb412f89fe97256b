"""Hugging Face models (needs transformers and tokenizers; skipped without
them). A tiny GPT-2 with a word-level tokenizer and a chat template is built
in the test, so nothing is downloaded."""

import os
import tempfile
import unittest

from helpers import chat_sample, torch

try:
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers
except ImportError:  # optional dependency
    transformers = None

try:
    import peft  # noqa: F401
except ImportError:
    peft = None

WORDS = ["<pad>", "<eos>", "[UNK]", "<|im_start|>", "<|im_end|>", "system", "user", "assistant", "tool",
         "Q?", "yes", "no", "maybe", "look", "found", "it", "be", "brief"]
TEMPLATE = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
            "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")


def make_model_dir(d):
    tk = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="<pad>",
                                               eos_token="<eos>", additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = TEMPLATE
    cfg = transformers.GPT2Config(vocab_size=len(WORDS), n_embd=32, n_layer=1, n_head=2, n_positions=64,
                                  eos_token_id=1, pad_token_id=0, bos_token_id=1)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg)
    model.save_pretrained(d)
    tok.save_pretrained(d)


@unittest.skipIf(transformers is None, "transformers/tokenizers are not installed")
class HFPolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, "model")
        make_model_dir(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def policy(self, **kw):
        from reagent_backend import policy

        return policy.HFPolicy(torch.device("cpu"), path=self.path, **kw)

    def test_chat_mask_covers_assistant_turns_only(self):
        from reagent_backend.chat import normalize_messages

        pol = self.policy()
        msgs = normalize_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": "Q?"},
                                   {"role": "assistant", "content": "look"}, {"role": "tool", "content": "found it"},
                                   {"role": "assistant", "content": "yes"}])
        ids, mask = pol.encode_chat(msgs)
        words = [WORDS[i] for i in ids]
        trained = [w for w, m in zip(words, mask) if m]
        self.assertEqual(trained, ["look", "<|im_end|>", "yes", "<|im_end|>"])
        self.assertEqual(len(ids), len(mask))

    def test_train_generate_checkpoint(self):
        from reagent_backend import server, trainer

        pol = self.policy()
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-2, model_name="model")
        body = {"groups": [{"samples": [chat_sample("yes", 1.0, "Q?"), chat_sample("no", 0.0, "Q?")]}]}
        m = tr.train(tr.prepare(body))
        self.assertEqual(m["step"], 1)
        self.assertGreater(m["grad_norm"], 0.0)
        m = tr.train(tr.prepare(dict(body, algo="ppo")))
        self.assertGreater(m["value_loss"], 0.0)
        be = server.Backend(pol, tr)
        r = be.chat({"messages": [{"role": "user", "content": "Q?"}], "max_tokens": 4, "n": 2, "logprobs": True})
        self.assertEqual(len(r["choices"]), 2)
        ck = os.path.join(self.tmp.name, "ck")
        tr.save_checkpoint(ck)
        self.assertTrue(os.path.isdir(os.path.join(ck, "model")))

    @unittest.skipIf(peft is None, "peft is not installed")
    def test_lora_trains_adapters_and_reference_is_base(self):
        from reagent_backend import trainer

        pol = self.policy(lora_rank=4)
        base = {k: v.clone() for k, v in pol.model.named_parameters() if not v.requires_grad}
        tr = trainer.Trainer(pol, algo="grpo", lr=1e-2)
        tr.train(tr.prepare({"groups": [{"samples": [chat_sample("yes", 1.0, "Q?"), chat_sample("no", 0.0, "Q?")]}]}))
        for k, v in pol.model.named_parameters():
            if k in base:
                self.assertTrue(torch.equal(v, base[k]), k)
        ids = torch.tensor([[3, 6, 9, 4]])
        ref = pol.ref_logits(ids, torch.ones_like(ids))
        cur, _ = pol.forward(ids, torch.ones_like(ids))
        self.assertGreater(float((ref - cur).abs().max()), 0.0)


if __name__ == "__main__":
    unittest.main()
