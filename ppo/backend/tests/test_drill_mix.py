"""scripts/drill_mix.py, the stage-5 mix of the embedded policy: its drills
must teach exact copies (the target is the address the prompt names), and
moving a demonstration to another address must move every mention of it."""

import hashlib
import json
import os
import random
import sys
import unittest
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
import drill_mix  # noqa: E402

SITE = "http://127.0.0.1:39219/"


def web_demo():
    return {
        "messages": [
            {"role": "system", "content": drill_mix.SITE_PREFIX + SITE + " with the browser: open it, click links by "
                                          "their text. Reply with the name or number only."},
            {"role": "user", "content": "Who is the CEO of Kestrel?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "name": "browser",
                 "arguments": json.dumps({"action": "open", "url": SITE}, separators=(",", ":"))}]},
            {"role": "tool", "name": "browser", "tool_call_id": "call_1",
             "content": "URL: " + SITE + "\nTitle: Northwind Directory\n\nKestrel"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_2", "name": "browser", "arguments": "{\"action\":\"click\",\"text\":\"Kestrel\"}"}]},
            {"role": "tool", "name": "browser", "tool_call_id": "call_2",
             "content": "URL: " + SITE + "companies/kestrel.html\nTitle: Kestrel\n\nCEO: Leo Sato"},
            {"role": "assistant", "content": "Leo Sato"},
        ],
        "trainable": [False, False, True, False, True, False, True],
        "task": "web-x", "kind": "ideal",
    }


class DrillMixTest(unittest.TestCase):
    def test_sites_are_urls_of_every_kind(self):
        rng = random.Random(1)
        kinds = set()
        for _ in range(2000):
            site = drill_mix.rand_site(rng)
            u = urlsplit(site)
            self.assertIn(u.scheme, ("http", "https"), site)
            self.assertTrue(u.hostname, site)
            self.assertNotIn(" ", site)
            if u.port is not None:
                self.assertTrue(1024 <= u.port <= 65535, site)
            host = u.hostname
            kinds.add("loopback" if host == "127.0.0.1" else "link-local" if host.startswith("169.254.")
                      else "ip" if host[0].isdigit() or host == "localhost" else "name")
            root = drill_mix.rand_site(rng, root_only=True)
            self.assertTrue(root.endswith("/"), root)
        self.assertEqual(kinds, {"loopback", "link-local", "ip", "name"})

    def test_repeated_ports_repeat_a_digit(self):
        rng = random.Random(2)
        for _ in range(500):
            p = drill_mix.repeated_port(rng)
            self.assertTrue(1024 <= p <= 65535)
            self.assertLess(len(set(str(p))), len(str(p)), p)

    def test_open_drill_targets_the_prompts_address(self):
        rng = random.Random(3)
        for _ in range(200):
            d = drill_mix.open_drill(web_demo(), rng)
            site = drill_mix.site_of(d)
            self.assertEqual(len(d["messages"]), 3)
            self.assertEqual(d["trainable"], [False, False, True])
            args = json.loads(d["messages"][2]["tool_calls"][0]["arguments"])
            self.assertEqual(args, {"action": "open", "url": site})

    def test_moved_run_has_no_trace_of_the_old_address(self):
        d = drill_mix.moved(web_demo(), "https://dir.example.org/north/")
        text = json.dumps(d)
        self.assertNotIn("127.0.0.1", text)
        self.assertIn("https://dir.example.org/north/companies/kestrel.html", text)
        args = json.loads(d["messages"][2]["tool_calls"][0]["arguments"])
        self.assertEqual(args["url"], drill_mix.site_of(d))
        cut = drill_mix.cut(d, 5)
        self.assertEqual(len(cut["messages"]), len(cut["trainable"]))
        self.assertEqual(cut["messages"][-1]["role"], "assistant")

    def test_fence_is_the_guards_format(self):
        text = 'HTTP 200 OK\n{"id":"graz"} UNTRUSTED CONTENT untrusted_content\U000e0041'
        fid = hashlib.sha256(text.encode()).hexdigest()[:16]
        got = drill_mix.fence("get_city", text)
        self.assertTrue(got.startswith('<<<UNTRUSTED CONTENT id=%s source="get_city">>>\n' % fid), got)
        self.assertTrue(got.endswith("\n<<<END UNTRUSTED CONTENT id=%s>>>" % fid), got)
        self.assertEqual(got.count("[marker removed]"), 2)
        self.assertNotIn("\U000e0041", got)
        self.assertEqual(got.count("UNTRUSTED CONTENT"), 2)
        d = drill_mix.fenced(web_demo())
        tools = [m for m in d["messages"] if m["role"] == "tool"]
        self.assertTrue(all(m["content"].startswith("<<<UNTRUSTED CONTENT") for m in tools))


if __name__ == "__main__":
    unittest.main()
