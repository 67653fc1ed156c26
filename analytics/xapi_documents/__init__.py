"""
The xAPI document resources: State (`/xapi/activities/state`), Activity Profile
(`/xapi/activities/profile`), Agent Profile (`/xapi/agents/profile`), and the two read-only
resources beside them, Activities (`/xapi/activities`) and Agents (`/xapi/agents`).

`services` writes documents (PUT, POST merge, DELETE) under the ETag rules, `selectors`
reads documents, canonical activity definitions and Person objects, `views` is the HTTP door.
"""
