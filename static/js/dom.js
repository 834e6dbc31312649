/* Helpers shared by the page scripts, exposed as window.BrainscanDom. Load it before them
 * (both deferred, so they run in document order). */
(function () {
  "use strict";

  /* GET a same-origin JSON endpoint: a promise of the parsed body, rejected on a network
   * error or an answer other than 2xx. */
  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  window.BrainscanDom = { getJson: getJson };
})();
