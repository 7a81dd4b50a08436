"""The forensic application on the framework: escalation analysis, the streaming monitor and
the report writers. Imports the framework (`gpuaudio.*`), never the layers above it."""
