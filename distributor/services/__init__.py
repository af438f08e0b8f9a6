"""What an editor can ask for, the same for the command line, the dashboard and the editor
bot: find an article, push, retry, resolve; typed outcomes."""
