from distributor.cli import main

main(prog_name="distributor")
