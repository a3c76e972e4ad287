"""xacthuc: the composition root. Settings read at the edge (``settings``), the database and its migrations
(``database``), the one builder of the service's parts (``services``), the HTTP app and its routes (``app``,
``routers``), the anchoring worker loop (``worker``), the embedded development chain (``devchain``, ``chainsetup``)
and the ``xacthuc`` command line (``cli``)."""

from xacthuc.app import create_app
from xacthuc.database import make_engine, migrate, session_scope
from xacthuc.routers import build_routers
from xacthuc.services import Role, Services, build_services, init_city
from xacthuc.settings import Settings, load_settings

__all__ = [
    "Role",
    "Services",
    "Settings",
    "build_routers",
    "build_services",
    "create_app",
    "init_city",
    "load_settings",
    "make_engine",
    "migrate",
    "session_scope",
]
