"""One small async function per POP3 command, grouped by the state that allows it;
dispatch.py is the table that names them."""
