// PartnerDesk integrations page: the partner's webhook endpoints, their recent deliveries, and
// the buttons to add an endpoint, send a test, redeliver, enable or disable, rotate the secret
// and remove one. Uses the token the dashboard stored (PartnerDesk.token()); refreshes every few
// seconds, as deliveries change status in the worker, not through subscriptions. Plain browser
// JavaScript, no build step.
(function () {
  'use strict';

  var REFRESH_MILLISECONDS = 2000;
  var RECENT_DELIVERIES = 10;
  // The types an endpoint can subscribe to (WebhookEventType without PING), in the API's order.
  var EVENT_TYPES = [
    'INQUIRY_RECEIVED', 'INQUIRY_CONVERTED', 'INQUIRY_DISMISSED',
    'INVITATION_RECEIVED', 'INVITATION_CONNECTED', 'INVITATION_DECLINED', 'INVITATION_WITHDRAWN',
    'INVITATION_EXPIRED', 'ACCESS_REVOKED',
    'CUSTOMER_CREATED', 'CUSTOMER_UPDATED', 'CUSTOMER_ARCHIVED', 'CUSTOMER_ERASED',
  ];
  var ERRORS = 'errors { code message field }';
  var ENDPOINT = 'id url description eventTypes enabled disabledReason createdAt';
  var STATE = '{ viewer { member { role partner { name webhookEndpoints { ' + ENDPOINT +
    ' deliveries(first: ' + RECENT_DELIVERIES + ') { edges { node {' +
    ' id eventType status attempts lastStatusCode lastError createdAt deliveredAt } } } } } } } }';
  var CREATE = 'mutation($input: CreateWebhookEndpointInput!) {' +
    ' createWebhookEndpoint(input: $input) { endpoint { id url } secret ' + ERRORS + ' } }';
  var UPDATE = 'mutation($input: UpdateWebhookEndpointInput!) {' +
    ' updateWebhookEndpoint(input: $input) { endpoint { id } ' + ERRORS + ' } }';
  var DELETE = 'mutation($input: WebhookEndpointIdInput!) {' +
    ' deleteWebhookEndpoint(input: $input) { ok ' + ERRORS + ' } }';
  var ROTATE = 'mutation($input: WebhookEndpointIdInput!) {' +
    ' rotateWebhookSecret(input: $input) { endpoint { id url } secret ' + ERRORS + ' } }';
  var SEND_TEST = 'mutation($input: WebhookEndpointIdInput!) {' +
    ' sendTestWebhook(input: $input) { delivery { id } ' + ERRORS + ' } }';
  var REDELIVER = 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { id } ' + ERRORS + ' } }';

  var elements = {};
  [
    'partner-name', 'signed-out', 'not-allowed', 'integrations',
    'create-form', 'create-url', 'create-description', 'create-types', 'create-error', 'create-submit',
    'secret', 'secret-url', 'secret-value', 'action-error', 'endpoints', 'endpoints-empty',
  ].forEach(function (id) {
    elements[id] = document.getElementById(id);
  });

  var timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
  var token = PartnerDesk.token();
  var timer = null;

  function graphql(query, variables) {
    return PartnerDesk.graphql(query, variables, token);
  }

  // A mutation's payload, or a rejection with its first error's message.
  function mutate(query, variables) {
    return graphql(query, variables).then(function (data) {
      var payload = data[Object.keys(data)[0]];
      if (payload.errors.length) throw new Error(payload.errors[0].message);
      return payload;
    });
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function label(name) {
    return name.toLowerCase().replace('_', '.').replace(/_/g, ' ');
  }

  function when(value) {
    return value ? timeFormat.format(new Date(value)) : '–';
  }

  function showError(target, message) {
    elements[target].textContent = message || '';
    elements[target].hidden = !message;
  }

  // ------------------------------------------------------------------ rendering

  function deliveryRow(delivery) {
    var row = element('tr', { 'data-id': delivery.id });
    row.append(
      element('td', {}, label(delivery.eventType)),
      (function () {
        var cell = element('td');
        cell.append(element('span', { class: 'badge ' + delivery.status }, delivery.status));
        return cell;
      })(),
      element('td', { class: 'numeric attempts' }, delivery.attempts),
      element('td', { class: 'numeric' }, delivery.lastStatusCode || '–'),
      element('td', { class: 'last-error' }, delivery.lastError || ''),
      element('td', {}, when(delivery.createdAt))
    );
    var actions = element('td');
    var redeliver = element('button', { type: 'button', class: 'quiet redeliver' }, 'Redeliver');
    redeliver.disabled = delivery.status === 'SENDING';
    redeliver.addEventListener('click', function () {
      act(redeliver, REDELIVER, { id: delivery.id });
    });
    actions.append(redeliver);
    row.append(actions);
    return row;
  }

  function endpointCard(endpoint) {
    var card = element('section', { class: 'card endpoint', 'data-id': endpoint.id });
    var head = element('div', { class: 'endpoint-head' });
    head.append(
      element('h2', {}, endpoint.url),
      element('span', { class: 'badge ' + (endpoint.enabled ? 'enabled' : 'disabled') },
        endpoint.enabled ? 'enabled' : 'disabled')
    );
    var input = { input: { endpointId: endpoint.id } };
    var buttons = [
      ['Send test', 'send-test', SEND_TEST, input],
      [endpoint.enabled ? 'Disable' : 'Enable', 'toggle', UPDATE,
        { input: { endpointId: endpoint.id, enabled: !endpoint.enabled } }],
      ['Rotate secret', 'rotate', ROTATE, input],
      ['Remove', 'remove', DELETE, input],
    ];
    buttons.forEach(function (spec) {
      var button = element('button', { type: 'button', class: 'quiet ' + spec[1] }, spec[0]);
      if (spec[1] === 'send-test') button.disabled = !endpoint.enabled;
      button.addEventListener('click', function () {
        if (spec[1] === 'remove' && !window.confirm('Remove ' + endpoint.url + ' and its deliveries?')) return;
        act(button, spec[2], spec[3]).then(function (payload) {
          if (payload && payload.secret) showSecret(payload.endpoint.url, payload.secret);
        });
      });
      head.append(button);
    });
    card.append(head);
    var types = endpoint.eventTypes.length ? endpoint.eventTypes.map(label).join(', ') : 'all events';
    var meta = (endpoint.description ? endpoint.description + ' · ' : '') + types;
    if (!endpoint.enabled && endpoint.disabledReason) meta += ' · ' + endpoint.disabledReason;
    card.append(element('p', { class: 'meta' }, meta));

    var deliveries = endpoint.deliveries.edges.map(function (edge) {
      return edge.node;
    });
    if (!deliveries.length) {
      card.append(element('p', { class: 'none' }, 'No deliveries yet.'));
      return card;
    }
    var header = element('tr');
    ['Event', 'Status', 'Attempts', 'HTTP', 'Last error', 'Created', ''].forEach(function (name) {
      header.append(element('th', {}, name));
    });
    var head = element('thead');
    head.append(header);
    var body = element('tbody');
    deliveries.forEach(function (delivery) {
      body.append(deliveryRow(delivery));
    });
    var table = element('table', { class: 'deliveries' });
    table.append(head, body);
    card.append(table);
    return card;
  }

  function showState(data) {
    var member = data.viewer && data.viewer.member;
    if (!member) return showSignedOut();
    elements['partner-name'].textContent = member.partner.name;
    if (member.role !== 'OWNER' && member.role !== 'ADMIN') {
      elements['not-allowed'].hidden = false;
      return;
    }
    elements.integrations.hidden = false;
    var endpoints = member.partner.webhookEndpoints;
    elements.endpoints.replaceChildren.apply(elements.endpoints, endpoints.map(endpointCard));
    elements['endpoints-empty'].hidden = endpoints.length > 0;
  }

  function showSignedOut() {
    if (timer) clearInterval(timer);
    timer = null;
    elements.integrations.hidden = true;
    elements['signed-out'].hidden = false;
  }

  function showSecret(url, secret) {
    elements['secret-url'].textContent = url;
    elements['secret-value'].textContent = secret;
    elements.secret.hidden = false;
  }

  // ------------------------------------------------------------------ actions

  function refresh() {
    return graphql(STATE).then(showState);
  }

  function act(button, query, variables) {
    button.disabled = true;
    showError('action-error', '');
    return mutate(query, variables)
      .then(function (payload) {
        return refresh().then(function () {
          return payload;
        });
      })
      .catch(function (error) {
        showError('action-error', error.message || 'That did not work.');
        button.disabled = false;
      });
  }

  EVENT_TYPES.forEach(function (type) {
    var box = element('label');
    var input = element('input', { type: 'checkbox', value: type });
    box.append(input, document.createTextNode(' ' + label(type)));
    elements['create-types'].append(box);
  });

  elements['create-form'].addEventListener('submit', function (event) {
    event.preventDefault();
    var ticked = Array.prototype.slice
      .call(elements['create-types'].querySelectorAll('input:checked'))
      .map(function (input) {
        return input.value;
      });
    var input = { url: elements['create-url'].value.trim(), eventTypes: ticked };
    var description = elements['create-description'].value.trim();
    if (description) input.description = description;
    showError('create-error', '');
    elements['create-submit'].disabled = true;
    mutate(CREATE, { input: input })
      .then(function (payload) {
        showSecret(payload.endpoint.url, payload.secret);
        elements['create-form'].reset();
        return refresh();
      })
      .catch(function (error) {
        showError('create-error', error.message || 'The endpoint could not be added.');
      })
      .finally(function () {
        elements['create-submit'].disabled = false;
      });
  });

  if (!token) {
    showSignedOut();
    return;
  }
  refresh()
    .then(function () {
      timer = setInterval(function () {
        refresh().catch(function () {});
      }, REFRESH_MILLISECONDS);
    })
    .catch(showSignedOut);
})();
