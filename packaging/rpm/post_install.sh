# The group whose members may use the control socket (/run/baton/baton.sock, mode 0660).
getent group baton >/dev/null || groupadd --system baton
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# Not enabled or started here: edit /etc/baton/baton.conf, then `systemctl enable --now baton`.
