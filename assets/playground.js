// Starts GraphiQL on the community-gateway playground page (served by src/graphql/playground.rs).
// React, ReactDOM and GraphiQL are the UMD globals of the files the page loads before this one;
// the settings come from the page's <script id="playground-config" type="application/json">.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  // The page is served at .../graphql: the endpoint is the page's own path.
  var endpoint = new URL(window.location.pathname, window.location.href).href;
  // Subscriptions go over WebSocket to the same path (graphql-transport-ws; GraphiQL's bundle
  // carries the graphql-ws client). The Headers tab's values become the connection_init
  // payload, so the token there authenticates the socket too.
  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: endpoint.replace(/^http/, 'ws'),
  });
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
