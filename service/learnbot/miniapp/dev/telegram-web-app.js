/*
 * A STAND-IN for https://telegram.org/js/telegram-web-app.js. It is not Telegram's script.
 *
 * It lets the starter Mini App run in a browser outside Telegram: in development, /app/dev.html
 * loads it instead of Telegram's script, and learnbot's browser tests serve it at Telegram's
 * URL. Like Telegram's script it reads the launch parameters from the URL's fragment
 * (#tgWebAppData=<init data>&tgWebAppVersion=..&tgWebAppPlatform=..&tgWebAppThemeParams=<JSON>),
 * and it provides only the part of Telegram.WebApp the page uses. There is no Telegram client
 * behind it: what the page asks of Telegram is recorded in Telegram.WebApp.standIn.calls, and
 * standIn.emit(...) plays the client's events.
 */
(function () {
  "use strict";

  var launch = new URLSearchParams(location.hash.slice(1));
  var handlers = {};
  var calls = [];

  function record(name, argument) {
    calls.push(argument === undefined ? [name] : [name, argument]);
  }

  function parsedInitData(raw) {
    var unsafe = {};
    new URLSearchParams(raw).forEach(function (value, key) {
      try {
        unsafe[key] = /^[[{]/.test(value) ? JSON.parse(value) : value;
      } catch (error) {
        unsafe[key] = value;
      }
    });
    return unsafe;
  }

  function themeFromLaunch() {
    try {
      var theme = JSON.parse(launch.get("tgWebAppThemeParams") || "{}");
      return theme && typeof theme === "object" ? theme : {};
    } catch (error) {
      return {};
    }
  }

  // Telegram's rule: the scheme is dark when the background is.
  function schemeOf(theme) {
    var match = /^#([0-9a-f]{6})$/i.exec(theme.bg_color || "");
    if (!match) return "light";
    var rgb = parseInt(match[1], 16);
    var brightness = 0.299 * (rgb >> 16) + 0.587 * ((rgb >> 8) & 255) + 0.114 * (rgb & 255);
    return brightness < 120 ? "dark" : "light";
  }

  function versionAtLeast(wanted) {
    var have = webApp.version.split(".").map(Number);
    var want = String(wanted).split(".").map(Number);
    for (var i = 0; i < Math.max(have.length, want.length); i++) {
      var a = have[i] || 0;
      var b = want[i] || 0;
      if (a !== b) return a > b;
    }
    return true;
  }

  function emit(type, data) {
    (handlers[type] || []).slice().forEach(function (handler) {
      handler.call(webApp, data);
    });
  }

  var theme = themeFromLaunch();
  var initData = launch.get("tgWebAppData") || "";

  var backButton = {
    isVisible: false,
    show: function () {
      backButton.isVisible = true;
      record("BackButton.show");
      return backButton;
    },
    hide: function () {
      backButton.isVisible = false;
      record("BackButton.hide");
      return backButton;
    },
    onClick: function (handler) {
      webApp.onEvent("backButtonClicked", handler);
      return backButton;
    },
    offClick: function (handler) {
      webApp.offEvent("backButtonClicked", handler);
      return backButton;
    },
  };

  var webApp = {
    initData: initData,
    initDataUnsafe: parsedInitData(initData),
    version: launch.get("tgWebAppVersion") || "6.0",
    platform: launch.get("tgWebAppPlatform") || "unknown",
    colorScheme: schemeOf(theme),
    themeParams: theme,
    isExpanded: false,
    viewportHeight: window.innerHeight,
    viewportStableHeight: window.innerHeight,
    BackButton: backButton,
    ready: function () {
      record("ready");
    },
    expand: function () {
      webApp.isExpanded = true;
      record("expand");
    },
    close: function () {
      record("close");
    },
    openLink: function (url) {
      record("openLink", String(url));
    },
    isVersionAtLeast: versionAtLeast,
    onEvent: function (type, handler) {
      (handlers[type] = handlers[type] || []).push(handler);
    },
    offEvent: function (type, handler) {
      handlers[type] = (handlers[type] || []).filter(function (known) {
        return known !== handler;
      });
    },
    standIn: {
      calls: calls,
      // The client's events: a new theme, a resized viewport, a press of the back button.
      setTheme: function (params) {
        webApp.themeParams = params;
        webApp.colorScheme = schemeOf(params);
        emit("themeChanged");
      },
      setViewportHeight: function (height) {
        webApp.viewportHeight = height;
        webApp.viewportStableHeight = height;
        emit("viewportChanged", { isStateStable: true });
      },
      pressBackButton: function () {
        emit("backButtonClicked");
      },
    },
  };

  window.Telegram = { WebApp: webApp };
})();
