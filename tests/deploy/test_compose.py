"""docker-compose.dev.yml: every service of services/ is in it, built from
deploy/Dockerfile; every other image is an official one with a pinned
version; dependencies wait on health; the Kafka topics are the platform's;
`docker-compose config` accepts it; and its helper scripts work against
real servers (postgres-init.sh, jwt-keygen.sh)."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import COMPOSE, ROOT

# Official images: Docker Official Images, or the project's own publisher.
OFFICIAL = {"postgres", "redis", "clickhouse/clickhouse-server", "apache/kafka", "minio/minio",
            "minio/mc"}
PINNED_TAG = re.compile(r"^(?:\d+(?:\.\d+)+(?:-[a-z0-9.]+)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)$")


def split_image(image):
    name, _, tag = image.rpartition(":")
    assert name and tag, f"image {image} has no tag"
    return name, tag


def test_every_service_is_in_compose(compose, services):
    for s in services:
        assert s in compose["services"], f"docker-compose.dev.yml lacks {s}"


def test_images_are_ours_or_official_and_pinned(compose, services):
    ours = set()
    for name, svc in compose["services"].items():
        image = svc["image"]
        repo, tag = split_image(image)
        if "build" in svc:
            # Built from this checkout, from the one Dockerfile.
            assert svc["build"]["context"] == "."
            assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
            assert repo.startswith("serphona/"), image
            ours.add(name)
            continue
        assert repo in OFFICIAL, f"{name}: {image} is neither ours nor an official image"
        assert PINNED_TAG.match(tag), f"{name}: {image} is not pinned to a version"
    for s in services:
        assert s in ours
        build = compose["services"][s]["build"]
        assert build["args"]["SERVICE"] == s and "target" not in build
        assert compose["services"][s]["image"].startswith(f"serphona/{s}:")


def test_infrastructure(compose):
    images = {split_image(s["image"])[0]: split_image(s["image"])[1]
              for s in compose["services"].values()}
    assert images["postgres"].startswith("15.")
    assert images["redis"].startswith("7.")
    assert "clickhouse/clickhouse-server" in images and "minio/minio" in images
    kafka = compose["services"]["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}  # KRaft
    assert str(kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"


def platform_topics():
    text = (ROOT / "libs/platform/include/platform/events.h").read_text()
    topics = re.findall(r'#define SP_EVENTS_TOPIC_\w+\s+"([^"]+)"', text)
    assert len(topics) >= 4
    return topics


def test_kafka_topics_are_created(compose):
    init = compose["services"]["kafka-topics"]
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    listed = re.search(r"for topic in ([^;]+);", script).group(1).split()
    assert sorted(listed) == sorted(platform_topics())
    assert "--if-not-exists" in script
    for s, svc in compose["services"].items():
        if "SERPHONA_KAFKA_BROKERS" in svc.get("environment", {}):
            assert svc["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully", s


def test_dependencies_wait_for_health(compose, services):
    for name, svc in compose["services"].items():
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in compose["services"], f"{name} depends on unknown {dep}"
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
            if cond["condition"] == "service_healthy":
                # Ours have the image's HEALTHCHECK; the others declare one.
                assert dep in services or "healthcheck" in compose["services"][dep], dep
    for s in services:
        deps = compose["services"][s]["depends_on"]
        for infra in ("postgres", "redis", "clickhouse"):
            assert deps[infra]["condition"] == "service_healthy"
    gw = compose["services"]["auth-gateway"]["depends_on"]
    for s in services:
        if s != "auth-gateway":
            assert gw[s]["condition"] == "service_healthy", f"auth-gateway should wait for {s}"


def test_services_are_hardened_and_local(compose, services):
    for s in services:
        svc = compose["services"][s]
        assert svc["read_only"] is True and "/tmp" in svc["tmpfs"]
        assert svc["cap_drop"] == ["ALL"]
        assert svc["environment"]["SERPHONA_BIND_ADDR"] == "0.0.0.0"
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_docker_compose_accepts_the_file():
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: run make deps"
    proc = subprocess.run([exe, "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# ---- the helper scripts, against real programs ------------------------------------

def test_jwt_keygen_makes_one_p256_key(tmp_path):
    script = ROOT / "deploy/docker/jwt-keygen.sh"
    env = dict(os.environ, JWT_KEY_OWNER=f"{os.getuid()}:{os.getgid()}")
    keys = tmp_path / "keys"
    first = subprocess.run(["sh", str(script), str(keys)], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    pems = list(keys.glob("*.pem"))
    assert len(pems) == 1
    assert oct(pems[0].stat().st_mode & 0o777) == "0o600"
    info = subprocess.run(["openssl", "pkey", "-in", str(pems[0]), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "prime256v1" in info or "P-256" in info
    # Idempotent: a second run keeps the key.
    again = subprocess.run(["sh", str(script), str(keys)], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and list(keys.glob("*.pem")) == pems


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scratch_postgres():
    """A throwaway PostgreSQL 15 cluster (deploy/local/postgres.sh) with its
    serphona roles and database dropped again, as in a fresh container."""
    run = Path(tempfile.mkdtemp(prefix="serphona-pginit-"))
    port = free_port()
    env = dict(os.environ, SP_DATA_DIR=str(run / "pg"), SP_PG_PORT=str(port))
    script = ROOT / "deploy/local/postgres.sh"
    subprocess.run([str(script), "start"], env=env, check=True, capture_output=True, timeout=120)
    sock = run / "pg" / "sock"
    runas = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    def superuser(*args, **kw):
        return subprocess.run(runas + ["env", f"PGHOST={sock}", f"PGPORT={port}", *args],
                              capture_output=True, text=True, timeout=60, **kw)
    try:
        reset = superuser("psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "postgres",
                          "-c", "DROP DATABASE serphona", "-c", "DROP ROLE serphona_app",
                          "-c", "DROP ROLE serphona_owner")
        assert reset.returncode == 0, reset.stderr
        yield superuser, port
    finally:
        subprocess.run([str(script), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(run, ignore_errors=True)


def test_postgres_init_creates_the_roles(scratch_postgres):
    superuser, port = scratch_postgres
    script = ROOT / "deploy/docker/postgres-init.sh"
    for _ in range(2):  # idempotent
        proc = superuser("SERPHONA_OWNER_PASSWORD=owner pw'1", "SERPHONA_APP_PASSWORD=app-pw-2",
                         "POSTGRES_USER=postgres", "bash", str(script))
        assert proc.returncode == 0, proc.stderr
    q = superuser("psql", "-X", "-At", "-U", "postgres", "-d", "postgres", "-c",
                  "SELECT rolname, rolsuper, rolbypassrls, rolinherit, rolcanlogin FROM pg_roles "
                  "WHERE rolname LIKE 'serphona_%' ORDER BY 1")
    assert q.stdout.split() == ["serphona_app|f|f|f|t", "serphona_owner|f|f|t|t"]
    owner = superuser("psql", "-X", "-At", "-U", "postgres", "-d", "postgres", "-c",
                      "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'serphona'")
    assert owner.stdout.strip() == "serphona_owner"
    # Both log in over TCP with the passwords given; the app role owns nothing.
    for user, pw in (("serphona_app", "app-pw-2"), ("serphona_owner", "owner pw'1")):
        login = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                                "-d", "serphona", "-c", "SELECT current_user"],
                               env=dict(os.environ, PGPASSWORD=pw), capture_output=True, text=True,
                               timeout=30)
        assert login.returncode == 0 and login.stdout.strip() == user, login.stderr
    denied = subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", "serphona_app",
                             "-d", "serphona", "-c", "CREATE TABLE public.t (x int)"],
                            env=dict(os.environ, PGPASSWORD="app-pw-2"), capture_output=True,
                            text=True, timeout=30)
    assert denied.returncode != 0 and "permission denied" in denied.stderr
