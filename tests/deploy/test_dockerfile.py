"""deploy/Dockerfile, checked without a Docker engine: its build stage
installs deploy/deps.sh's build packages and runs `make all`; its runtime
stage installs exactly the packages owning the libraries the built binaries
link; every package exists in Debian 12; the base image is pinned; and the
health-check script answers correctly against real HTTP servers."""
import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import DOCKERFILE, ROOT, bin_dir

HEALTHCHECK = ROOT / "deploy/docker/healthcheck.sh"


def dockerfile_text():
    # Join continuation lines, drop comments.
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if not ln.lstrip().startswith("#")]
    return re.sub(r"\\\n", " ", "\n".join(lines))


def stages():
    """[(name, [instructions])] in order."""
    out = []
    for line in dockerfile_text().splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            out.append((m.group(2), [line]))
        elif out:
            out[-1][1].append(line)
    return out


def stage(name):
    for n, instructions in stages():
        if n == name:
            return instructions
    pytest.fail(f"no stage {name}")


def apt_packages(instructions):
    pkgs = []
    for ins in instructions:
        for m in re.finditer(r"apt-get install ([^&]+)", ins):
            pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def deps_group(name):
    text = (ROOT / "deploy/deps.sh").read_text()
    block = re.search(r"PACKAGES=\((.*?)\n\)", text, re.S).group(1)
    groups, current = {}, None
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("#"):
            current = line.lstrip("#").strip().split(",")[0]
            groups[current] = []
        elif line and current:
            groups[current] += line.split()
    return groups[name]


def test_build_stage_installs_deps_build_group_and_runs_make_all():
    build = stage("build")
    assert sorted(apt_packages(build)) == sorted(deps_group("build"))
    assert any(re.search(r"RUN make .*\ball$", ins) for ins in build), "the build stage must run `make all`"
    # It copies what the Makefile reads.
    for src in ("Makefile", "proto/", "libs/", "services/", "deploy/dev-broker/", "deploy/tools/",
                "deploy/clickhouse/", "tests/bench/"):
        assert any(ins.startswith("COPY") and f" {src} " in ins + " " for ins in build), src
        assert (ROOT / src).exists()


def test_build_context_holds_every_source_make_reads():
    """Every directory whose sources the Makefile compiles is copied in: a new
    tool directory under deploy/ must be added to the Dockerfile too."""
    copied = {ins.split()[1].rstrip("/") for ins in stage("build") if ins.startswith("COPY")}
    makefile = (ROOT / "Makefile").read_text()
    for d in sorted(set(re.findall(r"wildcard (deploy/[a-z0-9_-]+|tests/[a-z0-9_-]+)/", makefile))):
        assert d in copied, f"the Makefile builds {d}/ but the Dockerfile does not copy it"


def test_base_image_is_pinned_and_runtime_is_last():
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG DEBIAN_IMAGE=(\S+)$", text, re.M).group(1)
    assert re.match(r"^debian:12\.\d+-slim(@sha256:[0-9a-f]{64})?$", base), base
    for _, instructions in stages():
        frm = instructions[0].split()[1]
        assert frm in ("${DEBIAN_IMAGE}", "build"), instructions[0]
    assert stages()[-1][0] == "runtime", "runtime must stay the last (default) stage"


def needed_packages():
    """Debian packages owning the shared libraries the service binaries need
    (readelf NEEDED entries resolved with ldconfig, owners from dpkg)."""
    ldcache = {}
    for line in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                               check=True).stdout.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m:
            ldcache.setdefault(m.group(1), m.group(3))
    libs = set()
    services = [p.name for p in (ROOT / "services").iterdir() if (p / "src").is_dir()]
    for s in services:
        out = subprocess.run(["readelf", "-d", str(bin_dir() / s)], capture_output=True, text=True,
                             check=True).stdout
        libs.update(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    pkgs = set()
    for lib in libs:
        path = ldcache.get(lib)
        assert path, f"{lib} is not in the linker cache"
        owner = None
        for candidate in {path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/"),
                          os.path.realpath(path).replace("/usr/lib/", "/lib/")}:
            proc = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if proc.returncode == 0:
                owner = proc.stdout.split(":")[0]
                break
        assert owner, f"no Debian package owns {lib} ({path})"
        pkgs.add(owner)
    return pkgs


def test_runtime_installs_exactly_what_the_binaries_link():
    runtime = set(apt_packages(stage("runtime")))
    needed = needed_packages() - {"libc6", "libgcc-s1"}  # in the base image
    extra = runtime - needed - {"ca-certificates"}
    assert runtime >= needed, f"the runtime image lacks {sorted(needed - runtime)}"
    assert not extra, f"the runtime image installs what nothing links: {sorted(extra)}"


def test_every_package_exists_in_debian_12():
    pkgs = set(apt_packages(stage("build")) + apt_packages(stage("runtime")) + apt_packages(stage("keygen")))
    out = subprocess.run(["apt-cache", "policy", *sorted(pkgs)], capture_output=True, text=True).stdout
    for p in pkgs:
        block = re.search(rf"^{re.escape(p)}:\n(.*?)(?=^\S|\Z)", out, re.M | re.S)
        assert block and "Candidate: (none)" not in block.group(1), f"{p} is not a Debian 12 package"


def test_runtime_stage_shape():
    runtime = stage("runtime")
    text = "\n".join(runtime)
    user = re.search(r"^USER (\S+)$", text, re.M).group(1)
    assert re.match(r"^[1-9]\d*:[1-9]\d*$", user), "USER must be a numeric non-root uid:gid"
    assert re.search(r'^HEALTHCHECK .*CMD \["/usr/local/bin/serphona-healthcheck", "ready"\]', text, re.M)
    assert 'ENTRYPOINT ["/usr/local/bin/serphona-service"]' in text
    env = dict(re.findall(r"(SERPHONA_[A-Z_]+)=(\S+)", text))
    assert env["SERPHONA_BIND_ADDR"] == "0.0.0.0"
    assert env["SERPHONA_MIGRATIONS_DIR"] == "/usr/share/serphona/migrations"
    assert env["SERPHONA_CLICKHOUSE_SCHEMA_DIR"] == "/usr/share/serphona/clickhouse"
    ignore = (ROOT / "deploy/Dockerfile.dockerignore").read_text().split()
    for p in (".git", "build", ".run"):
        assert p in ignore


def test_ops_port_extraction_matches_the_binaries(help_vars, services):
    """The staged step reads each binary's default operations port from its
    --help with this sed expression; it must find the right number."""
    expr = re.search(r"sed -n '([^']+)'", DOCKERFILE.read_text()).group(1)
    for s in services:
        help_text = subprocess.run([str(bin_dir() / s), "--help"], capture_output=True, text=True,
                                   env={"PATH": "/usr/bin:/bin"}).stdout
        got = subprocess.run(["sed", "-n", expr], input=help_text, capture_output=True, text=True).stdout
        assert got.strip() == help_vars[s]["SERPHONA_OPS_PORT"]["default"], s


# ---- the health check ------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    status = {"/health/live": 200, "/health/ready": 503}

    def do_GET(self):  # noqa: N802
        if self.path == "/hang":
            return
        code = self.status.get(self.path, 404)
        body = b"{}"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def ops_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def healthcheck(*args, env=None, timeout=20):
    full = {"PATH": "/usr/bin:/bin"}
    full.update(env or {})
    assert shutil.which("bash")
    return subprocess.run(["bash", str(HEALTHCHECK), *args], env=full, capture_output=True,
                          text=True, timeout=timeout).returncode


def test_healthcheck_follows_the_answer(ops_server):
    env = {"SERPHONA_OPS_PORT": str(ops_server)}
    assert healthcheck("live", env=env) == 0
    assert healthcheck("ready", env=env) == 1          # 503
    assert healthcheck(env=env) == 1                   # ready is the default
    assert healthcheck("other", env=env) == 2


def test_healthcheck_default_port_from_file(ops_server, tmp_path):
    port_file = tmp_path / "ops-port"
    port_file.write_text(f"{ops_server}\n")
    assert healthcheck("live", env={"SERPHONA_HEALTHCHECK_PORT_FILE": str(port_file)}) == 0
    port_file.write_text("not-a-port\n")
    assert healthcheck("live", env={"SERPHONA_HEALTHCHECK_PORT_FILE": str(port_file)}) == 1


def test_healthcheck_refused_and_silent(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert healthcheck("live", env={"SERPHONA_OPS_PORT": str(closed)}) == 1
    # A listener that never answers: bounded by SERPHONA_HEALTHCHECK_TIMEOUT_S.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        rc = healthcheck("live", env={"SERPHONA_OPS_PORT": str(silent.getsockname()[1]),
                                      "SERPHONA_HEALTHCHECK_TIMEOUT_S": "1"})
        assert rc == 1 and time.monotonic() - started < 5


def test_container_scripts_pass_shellcheck():
    exe = shutil.which("shellcheck")
    assert exe, "shellcheck is missing: run make deps"
    scripts = sorted((ROOT / "deploy" / "docker").glob("*.sh"))
    assert len(scripts) >= 3
    proc = subprocess.run([exe, *map(str, scripts)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
