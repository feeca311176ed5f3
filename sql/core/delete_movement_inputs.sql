delete from core.movement_inputs
