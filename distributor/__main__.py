from distributor.interfaces.cli import main

main(prog_name="distributor")
