"""docker-compose.yml agrees with the settings: health checks that pass, the queues the tasks
are routed to, variables the settings read, state kept under PORTAL_VAR_DIR."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from privacy_portal.celery import app
from privacy_portal.celery_beat import HEARTBEAT_SUFFIX, PortalScheduler

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DIR = ROOT / "privacy_portal" / "settings"


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _variables_read_by_settings() -> set[str]:
    text = "\n".join(path.read_text() for path in SETTINGS_DIR.glob("*.py"))
    return set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', text))


def _variables_read_by_gunicorn() -> set[str]:
    text = (ROOT / "privacy_portal" / "gunicorn.conf.py").read_text()
    return set(re.findall(r'os\.environ\.get\(\s*"([A-Z][A-Z0-9_]*)"', text))


def test_the_web_health_check_passes_against_a_portal_that_answers_only_its_public_host(
    live_server, settings
):
    settings.ALLOWED_HOSTS = ["privacy.inper.example"]
    check = _compose()["services"]["web"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    code = check[3].replace("http://127.0.0.1:8000", live_server.url)
    env = {**os.environ, "PORTAL_BASE_URL": "https://privacy.inper.example"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_the_worker_consumes_every_queue_tasks_are_routed_to():
    command = _compose()["services"]["worker"]["command"]
    consumed = set(command[command.index("-Q") + 1].split(","))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert consumed == routed | {settings.CELERY_TASK_DEFAULT_QUEUE}
    procfile = (ROOT / "Procfile.dev").read_text()
    assert set(re.search(r"^worker:.* -Q (\S+)", procfile, re.M).group(1).split(",")) == consumed


def test_beat_keeps_its_schedule_on_the_portal_data_volume():
    services = _compose()["services"]
    command = services["beat"]["command"]
    schedule = command[command.index("-s") + 1]
    var_dir = services["beat"]["environment"]["PORTAL_VAR_DIR"]
    assert schedule.startswith(var_dir + "/")
    assert any(volume.endswith(":" + var_dir) for volume in services["beat"]["volumes"])


@pytest.mark.parametrize("service", ["migrate", "web", "worker", "beat"])
def test_every_variable_the_portal_is_given_is_read_by_the_settings(service):
    given = set(_compose()["services"][service]["environment"])
    read = _variables_read_by_settings() | (
        _variables_read_by_gunicorn() if service == "web" else set()
    )
    assert given - read == set()


def _build_context(destination: Path) -> None:
    """Copy this folder as ``docker build`` sends it: without what .dockerignore names."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for folder, subfolders, files in os.walk(ROOT):
        relative = Path(folder).relative_to(ROOT)
        subfolders[:] = [
            name
            for name in subfolders
            if not any(fnmatch((relative / name).as_posix(), pattern) for pattern in ignored)
        ]
        for name in files:
            if not any(fnmatch((relative / name).as_posix(), pattern) for pattern in ignored):
                (destination / relative).mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(folder) / name, destination / relative / name)


def test_the_images_build_step_runs_on_what_the_image_is_built_from(tmp_path):
    """The Dockerfile's collectstatic and compilemessages step runs the production settings
    with throwaway values (no service is reached), on the build context alone: what
    .dockerignore leaves out (the tests, the benchmarks, the docs) is not needed."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    step = re.search(r"^RUN (export .*?compilemessages[^\n]*)", dockerfile, re.S | re.M)
    assert step, "the build's settings step"
    context = tmp_path / "context"
    _build_context(context)
    assert not any((context / name).exists() for name in ("tests", "bench", "docs", ".ci"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL")
    }
    env["DJANGO_SETTINGS_MODULE"] = "privacy_portal.settings.production"
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-c", step.group(1).replace("\\\n", " ")],
        cwd=context,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (context / "staticfiles" / "staticfiles.json").exists()
    assert (context / "locale" / "de" / "LC_MESSAGES" / "django.mo").exists()


def test_the_image_s_code_belongs_to_root_and_only_its_data_to_the_portal():
    """A process of the portal that is made to write files can write only to PORTAL_VAR_DIR."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--chown" not in dockerfile
    assert "chown portal /data" in dockerfile
    assert re.findall(r"^USER (\S+)", dockerfile, re.M)[-1] == "portal"


def test_the_secrets_file_stays_out_of_the_image_and_out_of_git():
    """The README has the secrets written to .env beside docker-compose.yml, which builds the
    image from this folder: the build context must leave the file out."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".env" in (ROOT / ".gitignore").read_text().split()
    assert _compose()["x-portal"]["env_file"] == [{"path": ".env", "required": False}]


def test_web_is_published_on_the_hosts_loopback_for_the_proxy():
    """TRUSTED_PROXY_COUNT=1 believes the last X-Forwarded-For entry: a client that reached
    gunicorn directly would choose the address rate limits count."""
    (published,) = _compose()["services"]["web"]["ports"]
    assert published == "${WEB_PUBLISH:-127.0.0.1:8000}:8000"
    assert _compose()["x-portal"]["environment"]["TRUSTED_PROXY_COUNT"] == (
        "${TRUSTED_PROXY_COUNT:-1}"
    )


def test_gunicorn_listens_in_its_container_on_the_port_compose_publishes():
    """gunicorn's own default is the loopback (a client reaching it directly could claim
    https): the image and compose's web service open it to the container's other addresses,
    where compose publishes the port on the host's loopback."""
    web = _compose()["services"]["web"]
    (published,) = web["ports"]
    container_port = published.rsplit(":", 1)[1]
    assert web["environment"]["GUNICORN_BIND"] == f"0.0.0.0:{container_port}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV (?:.*\\\n)*.*\bGUNICORN_BIND=0\.0\.0\.0:8000\b", dockerfile, re.M)
    assert "GUNICORN_BIND" not in _compose()["x-portal"]["environment"]  # web's alone


# Set by compose whatever .env says (see its comments and the README's docker-compose).
FIXED_BY_COMPOSE = {"PORTAL_VAR_DIR": "/data", "GUNICORN_BIND": "0.0.0.0:8000"}


@pytest.mark.parametrize("service", ["migrate", "web", "worker", "beat"])
def test_env_wins_over_compose_but_for_the_data_folder_and_where_web_listens(service):
    """The README has every setting of the Configuration table put in .env: compose gives
    each of its own values only as a default (``${NAME:-…}``, ``${NAME:?…}``), which compose
    takes from .env."""
    for name, value in _compose()["services"][service]["environment"].items():
        if name in FIXED_BY_COMPOSE:
            assert value == FIXED_BY_COMPOSE[name]
        else:
            assert re.fullmatch(rf"\$\{{{name}(?::[-?].*)?\}}", value), (name, value)
    readme = (ROOT / "README.md").read_text().split("### docker-compose", 1)[1].split("###")[0]
    assert all(f"`{name}`" in readme for name in FIXED_BY_COMPOSE)


def test_the_beat_health_check_passes_while_beat_runs_and_fails_once_it_stops(tmp_path):
    services = _compose()["services"]
    command = services["beat"]["command"]
    schedule = command[command.index("-s") + 1]
    check = services["beat"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"] and f"'{schedule}{HEARTBEAT_SUFFIX}'" in check[3]
    here = tmp_path / "celerybeat-schedule"
    code = check[3].replace(schedule, str(here))

    def healthy() -> bool:
        return subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0

    assert not healthy()  # beat has not started
    scheduler = PortalScheduler(app=app, schedule_filename=str(here), lazy=True)
    scheduler.setup_schedule()
    try:
        scheduler.tick()
    finally:
        scheduler.close()
    assert healthy()
    stopped = time.time() - 11 * 60
    os.utime(f"{here}{HEARTBEAT_SUFFIX}", (stopped, stopped))
    assert not healthy()
