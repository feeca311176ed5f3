delete from core.customer_movements where observed_on between $window_start and $window_end
