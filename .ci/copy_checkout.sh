#!/usr/bin/env bash
# Copy the checkout in the current directory into DEST: every file git tracks, as it is in the working
# tree (uncommitted edits included), and every untracked file git does not ignore. Ignored folders
# (a developer's .venv, site/, .ci-work/, caches) stay behind. Outside a git checkout: everything but
# .venv and .ci-work.
#
#   bash .ci/copy_checkout.sh DEST
set -euo pipefail
dest=$1
mkdir -p "$dest"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Tracked files deleted in the working tree are listed by git but absent: tar skips them.
  git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$dest"
else
  tar --exclude=./.venv --exclude=./.ci-work -cf - . | tar -xf - -C "$dest"
fi
