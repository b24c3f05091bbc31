"""Example JupyterHub configuration for a residency programme (teachingfiles dashboards).

Each resident logs in to the hub and gets a single-user server whose default page is
the quiz dashboard (Voila, no code visible). The dashboards read:

- ``JUPYTERHUB_USER`` (set by JupyterHub): the learner's name in the gradebook, so
  residents are not asked who they are and cannot answer as someone else;
- ``TEACHINGFILES_GRADEBOOK``: one PostgreSQL gradebook for the whole programme, so
  educators see every resident in the gradebook dashboard;
- ``TEACHINGFILES_REPOSITORY``: the shared, read-only repository folder;
- ``JUPYTER_PATH``: where Voila finds the offline ``teachingfiles`` template.

Copy this file to /etc/jupyterhub/jupyterhub_config.py, change the values marked
CHANGE, and start ``jupyterhub -f /etc/jupyterhub/jupyterhub_config.py``.
"""

# ``c`` is the configuration object JupyterHub passes to this file.
c = get_config()  # type: ignore[name-defined]  # noqa: F821

# CHANGE: the hub's address; put it behind your hospital's TLS proxy.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"

# CHANGE: authenticate against the institution (LDAP, OAuth, ...). PAM shown here.
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.Authenticator.allowed_users = {"resident1", "resident2"}
c.Authenticator.admin_users = {"educator1"}

# Residents land on the quiz dashboard; educators open /voila/render/gradebook.ipynb.
c.Spawner.default_url = "/voila/render/quiz.ipynb"
c.Spawner.notebook_dir = "/srv/teachingfiles/notebooks/dashboards"  # CHANGE

c.Spawner.environment = {
    # CHANGE: one gradebook for the programme (the role needs INSERT and SELECT only).
    "TEACHINGFILES_GRADEBOOK": "postgresql+psycopg://teachingfiles@db.example.org/gradebook",
    "TEACHINGFILES_REPOSITORY": "/srv/teachingfiles/repository",  # CHANGE
    # ``python -c "import teachingfiles.dashboards as d; print(d.jupyter_path())"``
    "JUPYTER_PATH": "/opt/teachingfiles/lib/python3.11/site-packages/teachingfiles/dashboards",
}
# Voila serves the dashboards with the template that fetches nothing from a CDN, and
# the options `teachingfiles serve` gives it (teachingfiles.commands.serve.voila_options):
# a longer wait for cell output on a busy server, and only the front-end extensions the
# dashboards use.
c.Spawner.args = [
    "--VoilaConfiguration.template=teachingfiles",
    "--VoilaExecutor.iopub_timeout=60",
    "--VoilaConfiguration.extension_allowlist=@voila-dashboards/widgets-manager8",
    "--VoilaConfiguration.extension_allowlist=@jupyter-widgets/jupyterlab-manager",
    "--VoilaConfiguration.extension_allowlist=anywidget",
]
c.Spawner.mem_limit = "2G"
c.Spawner.cpu_limit = 1.0
