// What every PartnerDesk page shares: GraphQL over HTTP and the signed-in member's token.
// Plain browser JavaScript, no build step; pages load it before their own script and use the
// global `PartnerDesk`.
(function () {
  'use strict';

  var TOKEN_KEY = 'partnerdesk.dashboardToken';

  // POST one operation; resolves to `data`, rejects with the first top-level error (its
  // `graphqlErrors` property has them all). Payload `errors` are for the caller to read.
  function graphql(query, variables, token) {
    var headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    var bearer = token === undefined ? sessionStorage.getItem(TOKEN_KEY) : token;
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    return fetch('/graphql', {
      method: 'POST',
      headers: headers,
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (response) {
      return response.json().then(function (body) {
        if (body.errors && body.errors.length) {
          var error = new Error(body.errors[0].message);
          error.graphqlErrors = body.errors;
          throw error;
        }
        return body.data;
      });
    });
  }

  window.PartnerDesk = {
    graphql: graphql,
    token: function () {
      return sessionStorage.getItem(TOKEN_KEY);
    },
    setToken: function (token) {
      sessionStorage.setItem(TOKEN_KEY, token);
    },
    clearToken: function () {
      sessionStorage.removeItem(TOKEN_KEY);
    },
  };
})();
