"""BODACC notices (``annonces-commerciales``) become typed legal events per SIREN."""
