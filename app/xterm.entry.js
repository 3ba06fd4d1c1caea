// The container page's terminal, bundled by make wasm into web/xterm.js:
// Debian's xterm.js 3.8 (libjs-xterm's own xterm.js only require()s the
// modules that node-xterm ships, so it cannot run in a page as it is) with
// libjs-xterm's fit addon applied. It sets window.Terminal, which
// app/terminal.go drives.
var Terminal = require("/usr/share/nodejs/xterm/lib/public/Terminal.js").Terminal;
Terminal.applyAddon(require("/usr/share/javascript/xterm/addons/fit/fit.js"));
window.Terminal = Terminal;
