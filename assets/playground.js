// Starts GraphiQL on the community-gateway playground page (served by src/graphql/playground.rs).
// React, ReactDOM and GraphiQL are the UMD globals of the files the page loads before this one;
// the settings come from the page's <script id="playground-config" type="application/json">.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  // The page is served at .../graphql: the endpoint is the page's own path.
  var endpoint = new URL(window.location.pathname, window.location.href).href;
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
    }),
  );
})();
