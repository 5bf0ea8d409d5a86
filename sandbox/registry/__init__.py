"""The sandbox's container registry and the tools to fill any registry with test images.

- `gitea.GiteaRegistry`: a Gitea-compatible registry on loopback (`store.py` holds its
  state, `packages.py` its packages API).
- `images.build_image` / `push_image` / `write_oci_layout`: valid images without Docker.
"""
