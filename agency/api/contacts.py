"""A client's contacts: the SME's people, and whether they approve posts."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from agency.access import require
from agency.clients import services
from agency.extensions import db
from tenants.roles import Permission

from .blueprint import bp, with_client, with_contact
from .openapi import documents
from .queries import contacts_of
from .schemas import ContactCreateSchema, ContactSchema, ContactUpdateSchema

_LOCATION_HEADER = {"Location": {"description": "The new contact's URL.",
                                 "schema": {"type": "string"}}}


@bp.route("/clients/<uuid:client_id>/contacts", tags=["contacts"])
class Contacts(MethodView):
    @with_client
    @bp.response(200, ContactSchema(many=True))
    @documents(bp, 401, 404)
    def get(self, client):
        """The client's contacts, by name"""
        return contacts_of(client)

    @with_client
    @require(Permission.CONTACT_MANAGE)
    @bp.arguments(ContactCreateSchema)
    @bp.response(201, ContactSchema, headers=_LOCATION_HEADER)
    @documents(bp, 400, 401, 403, 404, 413, 415)
    def post(self, data, client):
        """Add a contact"""
        contact = services.create_contact(client, data)
        db.session.commit()
        location = url_for("api.ContactItem", client_id=client.id, contact_id=contact.id,
                           _external=True)
        return contact, {"Location": location}


@bp.route("/clients/<uuid:client_id>/contacts/<uuid:contact_id>", tags=["contacts"])
class ContactItem(MethodView):
    @with_contact
    @bp.response(200, ContactSchema)
    @documents(bp, 401, 404)
    def get(self, client, contact):
        """One contact"""
        return contact

    @with_contact
    @require(Permission.CONTACT_MANAGE)
    @bp.arguments(ContactUpdateSchema)
    @bp.response(200, ContactSchema)
    @documents(bp, 400, 401, 403, 404, 413, 415)
    def patch(self, data, client, contact):
        """Change some of a contact's fields (only those sent)"""
        services.update_contact(contact, data)
        db.session.commit()
        return contact

    @with_contact
    @require(Permission.CONTACT_MANAGE)
    @bp.response(204)
    @documents(bp, 401, 403, 404)
    def delete(self, client, contact):
        """Remove a contact"""
        services.delete_contact(contact)
        db.session.commit()
        return None
