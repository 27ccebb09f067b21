-- The agent-orchestrator schema: agent configs, knowledge bases, conversations.
COMMENT ON SCHEMA agent IS 'agent-orchestrator: agent configs, knowledge bases, conversations, calls';
