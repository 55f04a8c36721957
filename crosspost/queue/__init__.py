"""The job queue: RQ on Redis, either a configured server or the workspace's embedded one.

`connection.connect(settings)` is the only way in to Redis; `embedded` runs the embedded server.
"""
