// PartnerDesk team page: the members and their roles, pending invitations, the invite form,
// and the signed-in member's notification preferences. Uses the dashboard's stored token
// (PartnerDesk.token()); plain browser JavaScript, no build step.
(function () {
  'use strict';

  var TEAM = '{ viewer { member { id role partner { name members { id name email role emailVerified }' +
    ' memberInvitations(status: [PENDING]) { id email role expiresAt } } }' +
    ' notificationPreferences { newInquiry newInvitation expiryReminder language } } }';
  var INVITE = 'mutation($input: InviteMemberInput!) { inviteMember(input: $input) {' +
    ' memberInvitation { id } errors { code message field } } }';
  var REVOKE = 'mutation($id: ID!) { revokeMemberInvitation(input: {memberInvitationId: $id}) {' +
    ' memberInvitation { id } errors { code message } } }';
  var REMOVE = 'mutation($id: ID!) { removeMember(input: {memberId: $id}) { ok errors { code message } } }';
  var PREFERENCES = 'mutation($input: NotificationPreferencesInput!) { updateNotificationPreferences(input: $input) {' +
    ' member { id } errors { code message field } } }';

  function $(id) {
    return document.getElementById(id);
  }

  var viewer = null;
  var dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

  function say(id, text, ok) {
    $(id).textContent = text;
    $(id).className = 'message ' + (ok ? 'ok' : 'error');
  }

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function actionButton(label, onClick) {
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'quiet';
    button.textContent = label;
    button.addEventListener('click', onClick);
    return button;
  }

  function firstError(payload) {
    return payload.errors && payload.errors.length ? payload.errors[0].message : null;
  }

  function run(query, variables, messageId, done) {
    return PartnerDesk.graphql(query, variables).then(function (data) {
      var payload = data[Object.keys(data)[0]];
      var problem = firstError(payload);
      if (problem) say(messageId, problem, false);
      else {
        say(messageId, done, true);
        return load();
      }
    }).catch(function (error) {
      say(messageId, error.message, false);
    });
  }

  function showMembers(partner, me) {
    var manager = me.role === 'OWNER' || me.role === 'ADMIN';
    $('members').replaceChildren();
    partner.members.forEach(function (member) {
      var row = document.createElement('tr');
      row.dataset.id = member.id;
      cell(row, member.name);
      cell(row, member.email);
      cell(row, member.role);
      cell(row, member.emailVerified ? 'yes' : 'no');
      var actions = cell(row, '');
      if (manager && member.role !== 'OWNER' && member.id !== me.id) {
        actions.appendChild(actionButton('Remove', function () {
          if (!window.confirm('Remove ' + member.name + ' from the team?')) return;
          run(REMOVE, { id: member.id }, 'team-message', member.name + ' was removed.');
        }));
      }
      $('members').appendChild(row);
    });
  }

  function showInvitations(partner) {
    $('pending-invitations').replaceChildren();
    partner.memberInvitations.forEach(function (invitation) {
      var row = document.createElement('tr');
      cell(row, invitation.email);
      cell(row, invitation.role);
      cell(row, dateFormat.format(new Date(invitation.expiresAt)));
      cell(row, '').appendChild(actionButton('Revoke', function () {
        run(REVOKE, { id: invitation.id }, 'invite-message', 'Invitation revoked.');
      }));
      $('pending-invitations').appendChild(row);
    });
    $('no-invitations').hidden = partner.memberInvitations.length > 0;
  }

  function showPreferences(preferences) {
    $('pref-new-inquiry').checked = preferences.newInquiry;
    $('pref-new-invitation').checked = preferences.newInvitation;
    $('pref-expiry-reminder').checked = preferences.expiryReminder;
    $('pref-language').value = preferences.language;
  }

  function load() {
    return PartnerDesk.graphql(TEAM).then(function (data) {
      if (!data.viewer || !data.viewer.member) throw new Error('not signed in');
      viewer = data.viewer;
      var me = viewer.member;
      $('partner-name').textContent = me.partner.name;
      showMembers(me.partner, me);
      showInvitations(me.partner);
      showPreferences(viewer.notificationPreferences);
      $('team').hidden = false;
      $('invitations').hidden = !(me.role === 'OWNER' || me.role === 'ADMIN');
      $('preferences').hidden = false;
    });
  }

  $('invite-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var email = $('invite-email').value.trim();
    $('invite-submit').disabled = true;
    run(INVITE, { input: { email: email, role: $('invite-role').value } }, 'invite-message',
      'Invitation sent to ' + email + '.').then(function () {
      $('invite-email').value = '';
    }).finally(function () {
      $('invite-submit').disabled = false;
    });
  });

  $('preferences-form').addEventListener('submit', function (event) {
    event.preventDefault();
    run(PREFERENCES, {
      input: {
        newInquiry: $('pref-new-inquiry').checked,
        newInvitation: $('pref-new-invitation').checked,
        expiryReminder: $('pref-expiry-reminder').checked,
        language: $('pref-language').value,
      },
    }, 'preferences-message', 'Preferences saved.');
  });

  if (!PartnerDesk.token()) {
    $('signed-out').hidden = false;
  } else {
    load().catch(function () {
      $('signed-out').hidden = false;
    });
  }
})();
