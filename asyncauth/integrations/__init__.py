"""Integrations with web frameworks; each lives in its own module and imports its framework.

``import asyncauth`` never imports this package's modules: ``asyncauth.integrations.starlette``
needs the ``starlette`` extra (``pip install 'asyncauth[starlette]'``), FastAPI brings it too.
"""
