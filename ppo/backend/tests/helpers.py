"""Shared test helpers: a small tiny policy and an in-process server."""

import hashlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from reagent_backend import policy, server, trainer  # noqa: E402

SMALL = {"d_model": 32, "n_layer": 1, "n_head": 2, "max_seq": 160}


def small_policy(seed=0, config=None):
    torch.manual_seed(seed)
    return policy.TinyPolicy(torch.device("cpu"), config=config or SMALL, seed=seed)


def weights_digest(pol):
    h = hashlib.sha256()
    for name, t in sorted(pol.model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    h.update(pol.value_head.weight.detach().numpy().tobytes())
    h.update(pol.value_head.bias.detach().numpy().tobytes())
    return h.hexdigest()


def chat_sample(answer, reward, question="Q?"):
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], "reward": reward}


class LiveServer:
    """A Backend served on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, backend):
        self.backend = backend
        self.httpd = server.ThreadingHTTPServer(("127.0.0.1", 0), server.make_handler(backend))
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def request(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def make_backend(seed=0, algo="grpo", lr=1e-3, checkpoint_dir=""):
    pol = small_policy(seed)
    tr = trainer.Trainer(pol, algo=algo, lr=lr, seed=seed)
    return server.Backend(pol, tr, checkpoint_dir=checkpoint_dir, seed=seed)
