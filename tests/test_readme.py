"""The README's quickstart commands are the ones CI runs, and its links work."""

import os
import re

from tests import conftest


def _read(*parts):
  with open(os.path.join(conftest.REPO_ROOT, *parts), encoding="utf-8") as f:
    return f.read()


def _github_anchors(markdown):
  """The anchors GitHub gives a Markdown file's headings (outside code)."""
  anchors, in_code = set(), False
  for line in markdown.splitlines():
    if line.lstrip().startswith("```"):
      in_code = not in_code
    elif not in_code and re.match(r"#{1,6} ", line):
      text = line.lstrip("#").strip().lower()
      anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
  return anchors


def test_ci_runs_the_readme_test_command():
  readme = _read("README.md")
  quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
  commands = re.findall(r"```sh\n(.*?)\n```", quickstart, re.S)
  assert len(commands) == 2, "the quickstart has exactly two commands"
  train_command, test_command = commands
  assert "pip install -e ." in train_command and "colorizer-train" in (
      train_command)
  ci_lines = [line.strip() for line in _read(".ci", "run").splitlines()
              if line.strip() and not line.startswith("#")]
  assert test_command.strip() in ci_lines


def test_readme_links_point_at_files_and_headings_that_exist():
  readme = _read("README.md")
  # Code spans and blocks hold commands, not links.
  prose = re.sub(r"```.*?```|`[^`\n]*`", "", readme, flags=re.S)
  targets = re.findall(r"\]\(([^)\s]+)\)", prose)
  assert any(target.startswith("docs/") for target in targets)
  for target in targets:
    if re.match(r"[a-z]+:", target):
      continue  # http:, https:, mailto:
    path, _, anchor = target.partition("#")
    if path:
      assert not os.path.isabs(path), target
      full_path = os.path.join(conftest.REPO_ROOT, path)
      assert os.path.exists(full_path), f"README links to missing {target}"
    if anchor:
      text = _read(path) if path else readme
      assert anchor in _github_anchors(text), (
          f"README links to {target}, a heading that does not exist")
