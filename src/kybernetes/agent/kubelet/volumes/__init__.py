"""Pod volumes: what each volume's files hold (``render``), how they are written atomically
(``writer``), and their life on the node per pod (``manager``)."""
