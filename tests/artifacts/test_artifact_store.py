"""The artifact store through its API: builds from real git repos, validation, immutability,
the venv, and how ``image:`` strings resolve."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from conveyor.artifacts import Artifact, ArtifactStore, BuildError
from conveyor.errors import ConflictError, NotFoundError, ValidationError


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    """Write ``files`` into ``repo`` (creating it on first use), commit, return the SHA."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def plain_dir(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


def run_python(artifact: Artifact, code: str) -> str:
    python = artifact.venv_dir / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", code], cwd=artifact.source_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def nothing_created(store: ArtifactStore) -> bool:
    return store.list() == [] and (not store.root.exists() or not any(store.root.iterdir()))


async def test_build_at_head_is_tagged_with_the_full_sha_and_holds_the_committed_tree(
    tmp_path: Path, store: ArtifactStore
) -> None:
    repo = tmp_path / "app"
    sha = commit(repo, {"app.py": "VERSION = 1\n", "pkg/mod.py": "X = 1\n"})
    (repo / "app.py").write_text("VERSION = 'uncommitted'\n")
    (repo / "untracked.txt").write_text("not in git\n")
    messages: list[str] = []

    artifact = await store.build("app", source=str(repo), progress=messages.append)

    assert artifact.tag == sha and len(sha) == 40
    assert artifact.revision == sha
    assert artifact.image == f"app:{sha}"
    assert artifact.path == store.root / "app" / sha
    assert (artifact.source_dir / "app.py").read_text() == "VERSION = 1\n"
    assert (artifact.source_dir / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert not (artifact.source_dir / "untracked.txt").exists()
    assert not (artifact.source_dir / ".git").exists()
    assert artifact.source == str(repo.resolve())
    assert artifact.command is None
    assert (artifact.path / "build.log").is_file()
    assert any(sha in message for message in messages)
    assert json.loads((artifact.path / "artifact.json").read_text())["revision"] == sha
    assert store.get("app", sha) == artifact
    assert store.list() == [artifact]
    assert [p.name for p in (store.root / "app").iterdir()] == [sha]  # no staging left


async def test_the_finished_artifact_is_read_only(tmp_path: Path, store: ArtifactStore) -> None:
    commit(tmp_path / "app", {"app.py": "print('hi')\n"})
    artifact = await store.build("app", source=str(tmp_path / "app"))
    for path in (artifact.path, artifact.source_dir, artifact.source_dir / "app.py"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0, path


@pytest.mark.parametrize("revision", ["first-sha", "HEAD~1", "v1", "old"], ids=str)
async def test_build_at_an_older_revision_exports_that_commit(
    tmp_path: Path, store: ArtifactStore, revision: str
) -> None:
    repo = tmp_path / "app"
    first = commit(repo, {"VERSION": "1\n"})
    git(repo, "tag", "v1")
    git(repo, "branch", "old")
    commit(repo, {"VERSION": "2\n"})

    artifact = await store.build(
        "app", source=str(repo), revision=first if revision == "first-sha" else revision
    )

    assert artifact.tag == first
    assert artifact.revision == first
    assert (artifact.source_dir / "VERSION").read_text() == "1\n"


async def test_an_explicit_tag_names_a_git_build_and_keeps_its_sha(
    tmp_path: Path, store: ArtifactStore
) -> None:
    sha = commit(tmp_path / "app", {"app.py": "\n"})
    artifact = await store.build("app", source=str(tmp_path / "app"), tag="1.0.0")
    assert (artifact.tag, artifact.revision) == ("1.0.0", sha)
    assert store.resolve("app:1.0.0") == artifact


async def test_a_plain_directory_needs_a_tag(tmp_path: Path, store: ArtifactStore) -> None:
    src = plain_dir(tmp_path / "site", {"index.html": "hello\n", ".venv/junk": "x"})

    with pytest.raises(ValidationError, match="--tag"):
        await store.build("site", source=str(src))
    assert nothing_created(store)

    artifact = await store.build("site", source=str(src), tag="v1")
    assert artifact.revision is None
    assert (artifact.source_dir / "index.html").read_text() == "hello\n"
    assert not (artifact.source_dir / ".venv").exists()


async def test_a_git_url_is_cloned_and_its_revision_resolved(
    tmp_path: Path, store: ArtifactStore
) -> None:
    repo = tmp_path / "app"
    first = commit(repo, {"VERSION": "1\n"})
    commit(repo, {"VERSION": "2\n"})
    url = repo.resolve().as_uri()

    artifact = await store.build("app", source=url, revision="main~1")

    assert artifact.tag == first
    assert artifact.source == url
    assert (artifact.source_dir / "VERSION").read_text() == "1\n"


async def test_an_existing_tag_is_never_overwritten(tmp_path: Path, store: ArtifactStore) -> None:
    repo = tmp_path / "app"
    commit(repo, {"VERSION": "1\n"})
    original = await store.build("app", source=str(repo), tag="stable-1")
    metadata = (original.path / "artifact.json").read_text()
    commit(repo, {"VERSION": "2\n"})

    with pytest.raises(ConflictError, match=r"already exists.*immutable.*different --tag"):
        await store.build("app", source=str(repo), tag="stable-1")
    head = git(repo, "rev-parse", "HEAD~1")
    with pytest.raises(ConflictError):
        await store.build("app", source=str(repo), revision=head, tag="stable-1")

    assert store.list() == [original]
    assert (original.source_dir / "VERSION").read_text() == "1\n"
    assert (original.path / "artifact.json").read_text() == metadata
    assert [p.name for p in (store.root / "app").iterdir()] == ["stable-1"]


async def test_two_concurrent_builds_of_one_tag_have_one_winner(
    tmp_path: Path, store: ArtifactStore
) -> None:
    a = plain_dir(tmp_path / "a", {"who": "a\n"})
    b = plain_dir(tmp_path / "b", {"who": "b\n"})

    results = await asyncio.gather(
        store.build("app", source=str(a), tag="t1"),
        store.build("app", source=str(b), tag="t1"),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, Artifact)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], ConflictError)
    winner = winners[0]
    assert store.list() == [winner]
    assert (winner.source_dir / "who").read_text() == (
        "a\n" if winner.source.endswith("/a") else "b\n"
    )


async def test_an_abandoned_build_is_never_listed_or_resolved(store: ArtifactStore) -> None:
    staging = store.root / "app" / ".build-crashed" / "t1"
    (staging / "src").mkdir(parents=True)
    (staging / "artifact.json").write_text(json.dumps({"name": "app", "tag": "t1"}))
    assert store.list() == []
    assert store.resolve("app:t1") is None


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[dict[str, object], type[Exception], str]]:
    return {
        "uppercase name": ({"name": "App"}, ValidationError, "not a valid image name"),
        "name with leading dash": ({"name": "-app"}, ValidationError, "not a valid image name"),
        "name with ..": ({"name": "../app"}, ValidationError, "not a valid image name"),
        "tag with slash": ({"tag": "a/b"}, ValidationError, "not a valid image tag"),
        "tag with leading dash": ({"tag": "-x"}, ValidationError, "not a valid image tag"),
        "tag with leading dot": ({"tag": ".."}, ValidationError, "not a valid image tag"),
        "tag latest": ({"tag": "latest"}, ValidationError, "immutable"),
        "source option": ({"source": "--upload-pack=touch /tmp/x"}, ValidationError, "option"),
        "ext transport": (
            {"source": f"ext::sh -c touch% {tmp_path / 'pwned'}"},
            ValidationError,
            "ext::",
        ),
        "fd transport": ({"source": "fd::3"}, ValidationError, "fd::"),
        "unsupported scheme": ({"source": "ftp://example.com/r.git"}, ValidationError, "ftp"),
        "missing path": ({"source": str(tmp_path / "nope")}, NotFoundError, "does not exist"),
        "revision option": ({"revision": "--output=/tmp/x"}, ValidationError, "option"),
        "unknown revision": ({"revision": "no-such-branch"}, NotFoundError, "'no-such-branch'"),
        "revision on plain dir": (
            {"source": str(tmp_path), "revision": "main"},
            ValidationError,
            "not a git repository",
        ),
        "empty command": ({"command": []}, ValidationError, "command is empty"),
    }


BAD_INPUT_IDS = list(_bad_inputs(Path("/x")))


@pytest.mark.parametrize("case", BAD_INPUT_IDS)
async def test_bad_input_is_refused_clearly_and_creates_nothing(
    tmp_path: Path, store: ArtifactStore, case: str
) -> None:
    repo = tmp_path / "repo"
    commit(repo, {"app.py": "\n"})
    given, error, fragment = _bad_inputs(tmp_path)[case]
    args: dict[str, object] = {"name": "app", "source": str(repo), **given}

    with pytest.raises(error, match=fragment.replace(".", r"\.")):
        await store.build(**args)  # type: ignore[arg-type]

    assert nothing_created(store)
    assert not (tmp_path / "pwned").exists()


async def test_a_link_out_of_the_tree_is_refused(tmp_path: Path, store: ArtifactStore) -> None:
    repo = tmp_path / "repo"
    commit(repo, {"app.py": "\n"})
    (repo / "passwd").symlink_to("/etc/passwd")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "escape")

    with pytest.raises(ValidationError, match="points outside the tree"):
        await store.build("app", source=str(repo))
    plain = plain_dir(tmp_path / "plain", {"app.py": "\n"})
    (plain / "secrets").symlink_to(tmp_path / "repo")
    with pytest.raises(ValidationError, match="points outside the tree"):
        await store.build("app", source=str(plain), tag="x")
    assert store.list() == []


async def test_an_empty_requirements_file_gives_a_working_venv(
    tmp_path: Path, store: ArtifactStore
) -> None:
    commit(tmp_path / "app", {"requirements.txt": "# nothing to install yet\n"})
    artifact = await store.build("app", source=str(tmp_path / "app"))
    assert run_python(artifact, "import sys; print(sys.prefix)") == str(artifact.venv_dir)


def make_wheel(path: Path) -> None:
    """A tiny pure-Python wheel with a console script, installable without any network."""
    dist = "greet-1.0.dist-info"
    files = {
        "greet.py": "def main():\n    print('hello from greet')\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: greet\nVersion: 1.0\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist}/entry_points.txt": "[console_scripts]\ngreet = greet:main\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{dist}/RECORD"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)


async def test_a_local_package_is_installed_and_its_scripts_run_from_the_final_place(
    tmp_path: Path, store: ArtifactStore
) -> None:
    repo = tmp_path / "app"
    make_wheel(repo / "wheels" / "greet-1.0-py3-none-any.whl")
    commit(repo, {"requirements.txt": "./wheels/greet-1.0-py3-none-any.whl\n"})

    artifact = await store.build("app", source=str(repo))

    script = artifact.venv_dir / "bin" / "greet"
    assert str(artifact.venv_dir) in script.read_text()
    result = subprocess.run([str(script)], capture_output=True, text=True)
    assert result.stdout.strip() == "hello from greet", result.stderr
    assert run_python(artifact, "import greet; print(greet.__file__)").startswith(
        str(artifact.path)
    )
    assert "greet" in (artifact.path / "build.log").read_text()


async def test_a_failing_install_shows_pips_output_and_leaves_nothing(
    tmp_path: Path, store: ArtifactStore
) -> None:
    commit(tmp_path / "app", {"requirements.txt": "./no-such-package-dir\n"})
    with pytest.raises(
        BuildError, match=r"(?s)installing requirements\.txt failed.*no-such-package-dir"
    ):
        await store.build("app", source=str(tmp_path / "app"))
    assert nothing_created(store)


@pytest.mark.parametrize(
    ("procfile", "expected"),
    [
        ("web: uvicorn app:app --port $PORT\n", ["uvicorn", "app:app", "--port", "$(PORT)"]),
        ("worker: celery\nweb:   python app.py\n", ["python", "app.py"]),
        (
            "web: ./migrate && exec python app.py\n",
            ["/bin/sh", "-c", "./migrate && exec python app.py"],
        ),
        ("worker: celery\n", None),
    ],
    ids=["port variable", "web line among others", "shell syntax", "no web line"],
)
async def test_the_procfile_web_line_is_the_default_command(
    tmp_path: Path, store: ArtifactStore, procfile: str, expected: list[str] | None
) -> None:
    commit(tmp_path / "app", {"Procfile": procfile})
    artifact = await store.build("app", source=str(tmp_path / "app"))
    assert artifact.command == expected
    assert store.get("app", artifact.tag) == artifact


async def test_an_explicit_command_wins_over_the_procfile(
    tmp_path: Path, store: ArtifactStore
) -> None:
    commit(tmp_path / "app", {"Procfile": "web: python app.py\n"})
    artifact = await store.build("app", source=str(tmp_path / "app"), command=["gunicorn", "app"])
    assert store.get("app", artifact.tag) is not None
    assert store.get("app", artifact.tag).command == ["gunicorn", "app"]  # type: ignore[union-attr]


async def test_images_resolve_by_full_name_then_last_segment(
    tmp_path: Path, store: ArtifactStore
) -> None:
    src = plain_dir(tmp_path / "src", {"x": "\n"})
    app = await store.build("app", source=str(src), tag="1.0")
    scoped = await store.build("ghcr.io/acme/app", source=str(src), tag="1.0")

    assert store.resolve("app:1.0") == app
    assert store.resolve("ghcr.io/acme/app:1.0") == scoped
    assert store.resolve("registry.example/org/app:1.0") == app
    assert store.resolve("localhost:5000/app:1.0") == app
    for missing in ["app", "app:latest", "app:2.0", "app@sha256:" + "0" * 64, "", "App:1.0"]:
        assert store.resolve(missing) is None, missing
    assert [a.name for a in store.list()] == ["app", "ghcr.io/acme/app"]
