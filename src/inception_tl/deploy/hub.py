"""Upload an exported folder to the Hugging Face hub with the user's own login (`hf auth login` or HF_TOKEN)."""

from __future__ import annotations

from pathlib import Path

from inception_tl.errors import ConfigError, WeightsError


def push_folder(directory: Path, repo_id: str, private: bool) -> str:
    """Create `repo_id` if needed (private unless `private=false`) and upload `directory` as one commit; returns
    the repository's address."""
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ConfigError(f"repo_id={repo_id!r}: give the hub repository as user/name (or org/name).")
    from huggingface_hub import HfApi

    api = HfApi(library_name="inception_tl")
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo_id, folder_path=str(directory), commit_message="Upload model from inception_tl")
    except Exception as error:  # the hub client raises many types (no login, offline, permissions)
        raise WeightsError(
            f"Could not upload {directory} to hf-hub:{repo_id}: {str(error).splitlines()[0]}. Log in with "
            "`hf auth login` (or set HF_TOKEN) and check that you may write to that name; the folder is complete "
            "on disk and can be uploaded again."
        ) from None
    return str(url)
