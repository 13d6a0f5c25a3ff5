"""Build the documentation site with MkDocs, offline and strictly (a warning fails the build).

Standard library only: a platform's build step runs it as `python -m docsite.build` from a throwaway
environment that holds MkDocs and nothing of the app (bin/build-docs), so building never reads the app's
settings or touches its database. `flask docs build` calls the same function.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = ROOT / "site"
INSTALL = "pip install -r docs/requirements.txt"  # or requirements-dev.txt, which includes it


def mkdocs_command(config, site_dir):
    """The MkDocs command line that builds `config` into `site_dir`."""
    return [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--config-file", str(config),
            "--site-dir", str(site_dir)]


def build(site_dir=SITE_DIR, config=ROOT / "mkdocs.yml"):
    """Build into `site_dir`; 0 on success, else MkDocs' exit status (2 when MkDocs is not installed).

    The new site is built beside the old one and swapped in by renames, so a service serving the old
    site never sees half of the new one."""
    if importlib.util.find_spec("mkdocs") is None:
        print(f"MkDocs is not installed here: {INSTALL}, then build again", file=sys.stderr)
        return 2
    site_dir = Path(site_dir).resolve()
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-new-", dir=site_dir.parent))
    # Material prints a banner about MkDocs 2.0 on every build; the variable is its documented off switch.
    quiet = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(mkdocs_command(config, fresh), cwd=ROOT, env=quiet)
    if done.returncode:
        shutil.rmtree(fresh, ignore_errors=True)
        return done.returncode
    old = site_dir.with_name(f".{site_dir.name}-old-{os.getpid()}")
    if site_dir.exists():
        site_dir.rename(old)
    fresh.rename(site_dir)
    shutil.rmtree(old, ignore_errors=True)
    return 0


def main(argv=None):
    """`python -m docsite.build [SITE_DIR]`."""
    argv = sys.argv[1:] if argv is None else argv
    code = build(Path(argv[0]) if argv else SITE_DIR)
    print("documentation built" if code == 0 else "documentation NOT built", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
