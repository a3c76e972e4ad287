"""README.md's examples run as written, so they cannot drift from the code again (issue 10).

Every fenced block of README.md runs here:

- "Two commands": ``make run`` and ``make test`` are checked as targets (``make -n``; running ``make test`` inside the
  tests would recurse), and the production block runs in a fresh directory (``/srv/xacthuc`` and ``/etc/xacthuc``
  moved under it), its ``xacthuc serve`` until the server answers ``/readyz``.
- "Tasks": what ``make run`` starts (``xacthuc serve --dev`` in a fresh directory, data dir ``./var``) serves, and
  every shell block runs in one bash session, in order, from that directory with a decision ``qd-2392.pdf`` in it,
  as the README says; then the bank's Python block runs there with the session's ``RPC_URL``.

The only rewrite is the port: ``127.0.0.1:8000`` becomes a free port, so the test never meets another server. Each
command must exit 0, or the code its comment names (``# exit 2: ...``); ``curl`` fails on an HTTP error
(``--fail-with-body``), and pipelines fail when any part does. Then the key output of each task is checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.chain.client import RegistryClient
from tests.verifier.served import Served, serve_city
from xacthuc.devchain import AnvilNode, free_port

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = "A bank verifying a QR from Python in five lines"
BIN = Path(sys.executable).parent  # the venv's bin: xacthuc, as `.venv/bin/xacthuc`
DEADLINE = 180.0  # seconds a server may take to answer /readyz: a deadline, not a measurement
BOX = re.compile("[\u2500-\u257f]")  # box drawing: Rich tables and panels
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
PRELUDE = r"""set -o pipefail
curl() { command curl --fail-with-body --max-time 120 "$@"; }   # an HTTP error fails the command
serve_until_ready() {  # `xacthuc serve` runs until stopped: here until it answers /readyz, then it is stopped
  xacthuc serve "$@" &
  local pid=$! deadline=$((SECONDS + __DEADLINE__))
  until command curl -sf "http://127.0.0.1:$XACTHUC_PORT/readyz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
    [ "$SECONDS" -lt "$deadline" ] || { kill -TERM "$pid"; wait "$pid"; return 124; }
    sleep 0.2
  done
  kill -TERM "$pid"
  wait "$pid" || true
}
"""


@dataclass(frozen=True)
class Block:
    section: str  # the "## " heading it is under
    lang: str
    text: str
    line: int


@dataclass(frozen=True)
class Command:
    text: str  # one logical command: continuation lines joined, its comment removed
    expected: int
    line: int


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    section = ""
    fence: tuple[str, int, list[str]] | None = None
    lines = README.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if fence is None and line.startswith("## "):
            section = line[3:].strip()
        elif line.startswith("```"):
            if fence is None:
                fence = (line[3:].strip(), number, [])
            else:
                blocks.append(Block(section, fence[0], "\n".join(fence[2]), fence[1]))
                fence = None
        elif fence is not None:
            fence[2].append(line)
    assert fence is None, "README.md has an unclosed code block"
    return blocks


def _open_quote(text: str) -> str | None:
    """The quote character left open at the end of ``text`` (shell rules: no escapes inside single quotes)."""
    quote, escaped = None, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote is None and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = None
    return quote


def commands(block: Block) -> list[Command]:
    """The logical commands of a shell block, each with the exit code its comment promises (0 unless ``exit N``)."""
    found, current, start, comment = [], "", 0, ""
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        for cut in re.finditer(r"\s+#\s.*$|\s+#\s", line):  # the first "  # " outside quotes starts a comment
            if _open_quote(current + line[: cut.start()]) is None:
                comment, line = line[cut.start() :], line[: cut.start()]
                break
        if not current:
            start = block.line + 1 + offset
        current += line + "\n"
        if line.endswith("\\") or _open_quote(current) is not None:
            continue
        code = re.search(r"\bexit (\d+)\b", comment)
        found.append(Command(current.rstrip(), int(code.group(1)) if code else 0, start))
        current, comment = "", ""
    assert not current, f"README.md line {start}: an unfinished command"
    return found


def script(cmds: list[Command], log: Path, port: int, rewrite: dict[str, str] | None = None) -> str:
    """One bash session running ``cmds`` in order, each one's output in ``log/N.out`` and ``log/N.err``."""
    parts = [PRELUDE.replace("__DEADLINE__", str(int(DEADLINE)))]
    for i, cmd in enumerate(cmds):
        text = cmd.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        for old, new in (rewrite or {}).items():
            text = text.replace(old, new)
        if re.fullmatch(r"make \w+", text):
            text = f"make -n -C {ROOT} {text.split()[1]} >/dev/null"
        elif text.startswith("xacthuc serve"):
            text = "serve_until_ready" + text.removeprefix("xacthuc serve")
        parts.append(
            f"rc=0\n{{ {text}\n}} >'{log}/{i}.out' 2>'{log}/{i}.err' || rc=$?\n"
            f'[ "$rc" -eq {cmd.expected} ] || {{ echo "README.md line {cmd.line}: exit $rc, expected'
            f' {cmd.expected}" >&2; exit 1; }}\n'
        )
    parts.append(f"declare -p > '{log}/vars'\n")
    return "\n".join(parts)


@dataclass
class Ran:
    cmds: list[Command]
    log: Path
    variables: dict[str, str]

    def output(self, prefix: str, nth: int = 0) -> tuple[str, str]:
        """Standard output and error of the ``nth`` command that starts with ``prefix``."""
        matches = [i for i, c in enumerate(self.cmds) if c.text.startswith(prefix)]
        assert len(matches) > nth, f"README.md no longer has `{prefix}...`"
        i = matches[nth]
        return (self.log / f"{i}.out").read_text("utf-8"), (self.log / f"{i}.err").read_text("utf-8")


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XACTHUC_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", XACTHUC_PORT=str(port), COLUMNS="100")
    return env


def run_session(cmds: list[Command], cwd: Path, port: int, rewrite: dict[str, str] | None = None) -> Ran:
    log = cwd.parent / f"{cwd.name}-log"
    log.mkdir()
    r = subprocess.run(
        ["bash", "-c", script(cmds, log, port, rewrite)],
        cwd=cwd,
        env=_env(port),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if r.returncode != 0:
        failed = len(list(log.glob("*.err"))) - 1  # the last command that ran
        if failed < 0:
            pytest.fail(r.stderr)
        out, err = ((log / f"{failed}.{s}").read_text("utf-8") for s in ("out", "err"))
        pytest.fail(f"{r.stderr}\n$ {cmds[failed].text}\nstdout: {out}\nstderr: {err}")
    variables = {}
    for line in (log / "vars").read_text("utf-8").splitlines():
        found = re.fullmatch(r'declare -[-x] (\w+)="(.*)"', line)
        if found:
            variables[found.group(1)] = found.group(2)
    ran = Ran(cmds, log, variables)
    for i in range(len(cmds)):
        for name in (f"{i}.out", f"{i}.err"):
            text = (log / name).read_text("utf-8")
            assert "Traceback" not in text and not BOX.search(text), f"{cmds[i].text}\n{text}"
    return ran


def _section(name: str, lang: str = "bash") -> list[Block]:
    return [b for b in readme_blocks() if b.section == name and b.lang == lang]


def test_every_readme_block_is_run_here() -> None:
    """A new block in a section this test does not run, or in another language, fails here until it runs."""
    run = {("Two commands", "bash"), ("Tasks", "bash"), ("Tasks", "python")}
    assert {(b.section, b.lang) for b in readme_blocks()} <= run
    assert len(_section("Tasks", "python")) == 1


def test_commands_are_split_as_a_shell_reads_them() -> None:
    block = Block("x", "bash", 'A=$(curl -d \\\n  \'{"a": 1,\n "b": "# no"}\' | jq .)   # exit 2: why\nls  # x', 1)
    assert commands(block) == [
        Command('A=$(curl -d \\\n  \'{"a": 1,\n "b": "# no"}\' | jq .)', 2, 2),
        Command("ls", 0, 5),
    ]


@pytest.fixture
def city_dir(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """What `make run` starts, in a fresh directory: `xacthuc serve --dev`, data dir ./var, answering /readyz."""
    if shutil.which("jq") is None or shutil.which("curl") is None:
        pytest.skip("README.md's examples use curl and jq: install them (apt-get install curl jq)")
    work = tmp_path / "city"
    work.mkdir()
    (work / "qd-2392.pdf").write_bytes(b"%PDF-1.7\n% Quyet dinh 2392/QD-UBND\n")
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "xacthuc"), "serve", "--dev"],
        cwd=work,
        env=_env(port),
        stdin=subprocess.DEVNULL,
        stdout=(tmp_path / "serve.out").open("w"),
        stderr=(tmp_path / "serve.err").open("w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "serve.err").read_text("utf-8")
            assert time.monotonic() < deadline, "xacthuc serve --dev did not get ready"
            time.sleep(0.2)
        yield work, port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_the_readme_tasks_run_as_written(
    city_dir: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work, port = city_dir
    cmds = [c for block in _section("Tasks") for c in commands(block)]
    ran = run_session(cmds, work, port)
    v = ran.variables
    for name in ("KEY", "IDKEY", "CITIZEN", "NAM", "CREDENTIAL", "RPC_URL"):
        assert v.get(name) not in (None, "", "null"), f"{name}={v.get(name)!r}"
    assert ULID.match(v["ID"]) and ULID.match(v["DOC"]), v

    # issuing: anchored with its proof; the CLI's document shows its proof, then its revocation
    shown = json.loads(ran.output("curl -s 127.0.0.1:8000/v1/documents/$ID")[0])
    assert shown["status"] == "anchored" and shown["proof"]["tx_hash"].startswith("0x")
    first, note = ran.output("xacthuc doc show $DOC", 0)
    assert "status: anchored" in first and "tx_hash: 0x" in first and "root: 0x" in first, first
    assert "payload: XD1:" in first and "verify_url" not in first  # no XACTHUC_PUBLIC_URL: no link, said once
    assert note.count("XACTHUC_PUBLIC_URL is not set") == 1, note
    second = ran.output("xacthuc doc show $DOC", 1)[0]
    assert "revocation: annulled" in second and "status: revoked" in second, second
    refused = ran.output("xacthuc doc issue qd-2392.pdf --agency ca-hcm")[1]
    assert "error FORBIDDEN:" in refused and "documents:issue" in refused, refused

    # verifying: over HTTP, as a third party, offline, from the data dir, the link itself, and a mistyped file
    posted = ran.output("curl -s -X POST 127.0.0.1:8000/v1/verify -H")[0]
    assert json.loads(posted)["verdict"] == "valid"
    assert json.loads(ran.output("curl -s -X POST 127.0.0.1:8000/v1/verify -F image=@qr.png")[0])["verdict"] == "valid"
    for prefix in ("xacthuc verify qr.png --rpc-url", "xacthuc verify bundle.json", "xacthuc verify qr.png --off"):
        assert ran.output(prefix)[0].startswith("VALID (document)"), prefix
    assert "file_matches" in ran.output("xacthuc verify qr.png --file qd-2392.pdf")[0]
    assert json.loads(ran.output('xacthuc verify "$LINK" --json')[0])["verdict"] == "valid"
    missing = json.loads(ran.output("xacthuc verify qd-2392.pfd --json")[0])["error"]
    assert missing["code"] == "FILE_NOT_FOUND" and "qd-2392.pfd" in missing["message"]

    # digital IDs: the presented QR shows exactly the two claims; the CLI prints the credential's id
    presented = ran.output("xacthuc verify id.png")[0]
    assert presented.startswith("VALID (citizen_id)"), presented
    assert sorted(re.findall(r"^  (\w+): ", presented, re.MULTILINE)) == ["age_over_18", "given_name"], presented
    issued = ran.output("xacthuc id issue $NAM --holder-jwk holder.jwk --out nam.txt")[0]
    credential_id = re.fullmatch(r"credential (\S+) issued by ca-hcm, written to nam.txt\n", issued)
    assert credential_id is not None, issued
    assert (work / "nam.txt").read_text("utf-8").strip().endswith("~")
    assert v["CREDENTIAL"] in ran.output("xacthuc id revoke $CREDENTIAL")[0]

    # agencies and keys: a new agency's document anchored at once; plain tables in a pipe
    assert "API key" in ran.output("xacthuc agency create")[0]
    assert "leaves waiting: 0" in ran.output("xacthuc anchor --wait", 2)[0]
    listed = ran.output("xacthuc keys list")[0].splitlines()
    assert listed[0].split("\t")[:3] == ["agency_id", "kid", "alg"] and any("ubnd-q3" in r for r in listed)
    assert ran.output("xacthuc keys rotate ubnd-hcm")[0].startswith("new ubnd-hcm key ")

    # the bank's five lines, in the same directory, with the session's RPC_URL
    monkeypatch.chdir(work)
    exec(_section("Tasks", "python")[0].text, {"RPC_URL": v["RPC_URL"], "SERVICE_URL": f"http://127.0.0.1:{port}"})
    assert capsys.readouterr().out.strip() == "valid"


def test_the_readme_production_setup_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("README.md's examples use curl")
    [block] = [b for b in _section("Two commands") if "xacthuc init" in b.text]
    work = tmp_path / "prod"
    work.mkdir()
    cmds = commands(block)
    assert [c.text.split()[:2] for c in cmds if c.text.startswith("xacthuc")] == [
        ["xacthuc", "init"],
        ["xacthuc", "agency"],
        ["xacthuc", "serve"],
    ]
    rewrite = {"/srv/xacthuc": str(tmp_path / "srv" / "xacthuc"), "/etc/xacthuc": str(tmp_path / "etc" / "xacthuc")}
    ran = run_session(cmds, work, free_port(), rewrite)
    assert (tmp_path / "etc" / "xacthuc" / "passphrase").stat().st_mode & 0o077 == 0
    assert "root key:" in ran.output("xacthuc init")[0]
    created = ran.output("xacthuc agency create")[0]
    assert "agency ubnd-q1 created" in created and re.search(r"^xk_\w+_\S+$", created, re.MULTILINE), created
    assert not (tmp_path / "srv" / "xacthuc" / "dev-credentials.json").exists()


def test_make_run_and_make_test_are_targets() -> None:
    [block] = [b for b in _section("Two commands") if b.text.startswith("make")]
    for cmd in commands(block):
        target = cmd.text.split()[1]
        assert subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True).returncode == 0, target


# --- the bank's Python example against the third-party service of the verifier's tests, revoked included ----------


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    found = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert found is not None, "README.md lost the bank's Python example"
    return found.group(1)


@pytest.fixture
def served(tmp_path: Path, anvil: AnvilNode, anvil_registry: RegistryClient) -> Iterator[Served]:
    with serve_city(tmp_path / "city", anvil, anvil_registry) as city:
        yield city


def test_the_example_is_five_lines() -> None:
    assert len([line for line in readme_example().splitlines() if line.strip()]) == 5


def test_the_readme_example_verifies_a_qr_code(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = served.issue("2392/QĐ-UBND", b"a decision")
    revoked = served.issue("2393/QĐ-UBND", b"annulled")
    served.anchor()
    served.revoke(revoked["id"])
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "root.jwk").write_bytes(served.get("/v1/trust-root").content)
    monkeypatch.chdir(bank)
    for document, verdict in ((doc, "valid"), (revoked, "revoked")):
        (bank / "qr.png").write_bytes(served.get(f"/v1/documents/{document['id']}/qr.png").content)
        exec(readme_example(), {"RPC_URL": served.anvil.url, "SERVICE_URL": served.base})
        assert capsys.readouterr().out.strip() == verdict
