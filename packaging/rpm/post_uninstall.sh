# Runs after removal ($1 = 0) and after an upgrade ($1 >= 1). A running daemon is not
# restarted on upgrade: a restart moves the VIP, so the operator chooses when (README).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
